/**
 * The Gateway API kinds mesh reads, as entries of the kind registry (api/kinds.ts): Gateway
 * (id `KubernetesGateway`, Istio's internal name, since Istio's own Gateway has the id
 * `Gateway`), GatewayClass, HTTPRoute, GRPCRoute, TCPRoute, TLSRoute and ReferenceGrant, with
 * the versions Istio serves and the CRDs serve.
 * @module
 */

import type { KindInfo } from "../../kinds.ts";
import { GATEWAY_API_GROUP } from "./common.ts";
import {
  checkKubernetesGateway,
  type KubernetesGatewaySpec,
  kubernetesGatewaySpec,
} from "./gateway.ts";
import { checkGatewayClass, type GatewayClassSpec, gatewayClassSpec } from "./gateway_class.ts";
import { checkHttpRoute, type HTTPRouteSpec, httpRouteSpec } from "./http_route.ts";
import { checkGrpcRoute, type GRPCRouteSpec, grpcRouteSpec } from "./grpc_route.ts";
import {
  checkTcpRoute,
  checkTlsRoute,
  type TCPRouteSpec,
  tcpRouteSpec,
  type TLSRouteSpec,
  tlsRouteSpec,
} from "./tcp_route.ts";
import {
  checkReferenceGrant,
  type ReferenceGrantSpec,
  referenceGrantSpec,
} from "./reference_grant.ts";

function gatewayApi(
  kind: string,
  rest: Pick<KindInfo, "versions" | "plural" | "shortNames" | "schema" | "check"> & {
    scope?: KindInfo["scope"];
  },
): KindInfo {
  return {
    kind,
    group: GATEWAY_API_GROUP,
    scope: rest.scope ?? "Namespaced",
    support: "enforced",
    specRequired: true,
    ...rest,
  };
}

/** Registry entries of the Gateway API kinds, by kind id. */
export const GATEWAY_API_KINDS = {
  KubernetesGateway: gatewayApi("Gateway", {
    versions: ["v1", "v1beta1", "v1alpha2"],
    plural: "gateways",
    shortNames: ["gtw"],
    schema: kubernetesGatewaySpec,
    check: checkKubernetesGateway,
  }),
  GatewayClass: gatewayApi("GatewayClass", {
    versions: ["v1", "v1beta1", "v1alpha2"],
    plural: "gatewayclasses",
    shortNames: ["gc"],
    scope: "Cluster",
    schema: gatewayClassSpec,
    check: checkGatewayClass,
  }),
  HTTPRoute: gatewayApi("HTTPRoute", {
    versions: ["v1", "v1beta1", "v1alpha2"],
    plural: "httproutes",
    shortNames: [],
    schema: httpRouteSpec,
    check: checkHttpRoute,
  }),
  GRPCRoute: gatewayApi("GRPCRoute", {
    versions: ["v1", "v1alpha2"],
    plural: "grpcroutes",
    shortNames: [],
    schema: grpcRouteSpec,
    check: checkGrpcRoute,
  }),
  TCPRoute: gatewayApi("TCPRoute", {
    versions: ["v1", "v1alpha2"],
    plural: "tcproutes",
    shortNames: [],
    schema: tcpRouteSpec,
    check: checkTcpRoute,
  }),
  TLSRoute: gatewayApi("TLSRoute", {
    versions: ["v1", "v1alpha3", "v1alpha2"],
    plural: "tlsroutes",
    shortNames: [],
    schema: tlsRouteSpec,
    check: checkTlsRoute,
  }),
  ReferenceGrant: gatewayApi("ReferenceGrant", {
    versions: ["v1", "v1beta1", "v1alpha2"],
    plural: "referencegrants",
    shortNames: ["refgrant"],
    schema: referenceGrantSpec,
    check: checkReferenceGrant,
  }),
} satisfies Record<string, KindInfo>;

/** The spec type of each Gateway API kind id (part of `SpecMap` in api/resources.ts). */
export interface GatewayApiSpecMap {
  KubernetesGateway: KubernetesGatewaySpec;
  GatewayClass: GatewayClassSpec;
  HTTPRoute: HTTPRouteSpec;
  GRPCRoute: GRPCRouteSpec;
  TCPRoute: TCPRouteSpec;
  TLSRoute: TLSRouteSpec;
  ReferenceGrant: ReferenceGrantSpec;
}
