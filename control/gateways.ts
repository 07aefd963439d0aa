/**
 * Gateways → listeners. A gateway proxy gets a listener for each server port
 * of every Gateway whose selector its labels match, routed by the
 * VirtualServices bound to that Gateway.
 * @module
 */
import type { GatewayListener, VirtualHost } from "../api/proxy_config.ts";
import { hostsIntersect } from "../api/host.ts";
import { resolveGatewayName } from "../api/schemas/http_route_checks.ts";
import type { Gateway, VirtualService } from "../api/resources.ts";
import { labelsMatch, type ServiceRegistry } from "./registry.ts";
import { sniRoutes, tcpDestinations, translateRoutes } from "./routes.ts";
import { exportedTo } from "./visibility.ts";
import { GATEWAY_SEMANTICS } from "./gateway_api/convert_gateway.ts";

/**
 * Whether `vs` names `gw` in its gateways (as `ns/name`, `name` in its own namespace, or the
 * old FQDN form `name.ns...`).
 */
export function boundToGateway(vs: VirtualService, gw: Gateway): boolean {
  const full = `${gw.metadata.namespace}/${gw.metadata.name}`;
  return (vs.spec.gateways ?? []).some((g) =>
    resolveGatewayName(g, vs.metadata.namespace) === full
  );
}

/**
 * Strips the `ns/` part of a Gateway server host, checking it admits a
 * VirtualService in `vsNamespace` (`*` any namespace, `.` the Gateway's own).
 */
function serverHostFor(
  serverHost: string,
  vsNamespace: string,
  gatewayNamespace: string,
): string | undefined {
  const i = serverHost.indexOf("/");
  if (i < 0) return serverHost;
  const ns = serverHost.slice(0, i);
  const admitted = ns === "*" || ns === vsNamespace ||
    (ns === "." && vsNamespace === gatewayNamespace);
  return admitted ? serverHost.slice(i + 1) : undefined;
}

/** Server protocols served as a plaintext HTTP listener. */
const PLAIN_HTTP = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

/** The listeners of a gateway proxy with `labels`. */
export function gatewayListeners(
  gateways: readonly Gateway[],
  virtualServices: readonly VirtualService[],
  registry: ServiceRegistry,
  labels: Record<string, string>,
  namespace = "istio-system",
): GatewayListener[] {
  const byPort = new Map<number, GatewayListener>();
  for (const gw of gateways) {
    if (!labelsMatch(gw.spec.selector ?? {}, labels)) continue;
    // A Gateway API Gateway is served by the gateway processes of its own namespace only.
    if (gw.metadata.annotations?.[GATEWAY_SEMANTICS] && gw.metadata.namespace !== namespace) {
      continue;
    }
    // VirtualServices bound to this Gateway and exported to the gateway's namespace.
    const bound = virtualServices.filter((vs) =>
      boundToGateway(vs, gw) && exportedTo(vs.spec.exportTo, vs.metadata.namespace, namespace)
    );
    for (const server of gw.spec.servers) {
      const protocol = (server.port.protocol ?? "HTTP").toUpperCase();
      if (protocol === "TCP") {
        // A TCP server: connections go to the first bound VirtualService `tcp` route for it.
        if (byPort.has(server.port.number)) continue;
        const client = {
          namespace,
          labels,
          gateway: `${gw.metadata.namespace}/${gw.metadata.name}`,
        };
        let destinations;
        for (const vs of bound) {
          destinations = tcpDestinations(vs, server.port.number, registry, undefined, client);
          if (destinations) break;
        }
        byPort.set(server.port.number, {
          name: `${gw.metadata.namespace}/${gw.metadata.name}`,
          port: server.port.number,
          protocol: "TCP",
          virtualHosts: [],
          ...(destinations ? { destinations } : {}),
        });
        continue;
      }
      // TLS passthrough (TLS, or HTTPS with mode PASSTHROUGH): connections by SNI, as the
      // bound VirtualServices' `tls` routes say; the gateway never terminates their TLS.
      const passthrough = (protocol === "TLS" || protocol === "HTTPS") &&
        (server.tls?.mode ?? "PASSTHROUGH") === "PASSTHROUGH";
      if (passthrough) {
        const gateway = `${gw.metadata.namespace}/${gw.metadata.name}`;
        let listener = byPort.get(server.port.number);
        if (listener && listener.protocol !== "TLS") continue; // the port is taken
        if (!listener) {
          listener = {
            name: gateway,
            port: server.port.number,
            protocol: "TLS",
            virtualHosts: [],
            sniRoutes: [],
          };
          byPort.set(server.port.number, listener);
        }
        const client = { namespace, labels, gateway };
        for (const vs of bound) {
          for (const route of sniRoutes(vs, server.port.number, registry, client)) {
            // Only the SNI hosts this server admits.
            const admitted = route.sniHosts.filter((h) =>
              server.hosts.some((sh) => {
                const s = serverHostFor(
                  sh.toLowerCase(),
                  vs.metadata.namespace,
                  gw.metadata.namespace,
                );
                return s !== undefined && hostsIntersect(s, h);
              })
            );
            if (admitted.length) listener.sniRoutes!.push({ ...route, sniHosts: admitted });
          }
        }
        continue;
      }
      // HTTPS terminates TLS (mode SIMPLE); other modes and protocols are warned and skipped.
      // HTTP2, GRPC and GRPC-WEB servers are plaintext HTTP listeners (h2c is told apart by its
      // preface on every HTTP listener).
      const https = protocol === "HTTPS" &&
        (server.tls?.mode === "SIMPLE" || server.tls?.mode === "MUTUAL");
      if (!PLAIN_HTTP.has(protocol) && !https) continue;
      let listener = byPort.get(server.port.number);
      if (listener && listener.protocol !== (https ? "HTTPS" : "HTTP")) continue; // port taken
      if (!listener) {
        listener = {
          name: `${gw.metadata.namespace}/${gw.metadata.name}`,
          port: server.port.number,
          protocol: https ? "HTTPS" : "HTTP",
          virtualHosts: [],
        };
        if (https) {
          const t = server.tls!;
          listener.tls = t.credentialName
            ? { credentialName: t.credentialName }
            : { serverCertificate: t.serverCertificate, privateKey: t.privateKey };
          if (t.mode === "MUTUAL") {
            listener.tls.mode = "MUTUAL";
            if (t.caCertificates) listener.tls.caCertificates = t.caCertificates;
          }
        }
        byPort.set(server.port.number, listener);
      }
      // `httpsRedirect`: every request to this server's hosts is sent to https with a 301.
      if (protocol === "HTTP" && server.tls?.httpsRedirect) {
        for (const sh of server.hosts) {
          const h = sh.slice(sh.indexOf("/") + 1).toLowerCase();
          if (listener.virtualHosts.some((v) => v.name === h)) continue;
          listener.virtualHosts.push({
            name: h,
            domains: [h],
            routes: [{
              source: `${gw.metadata.namespace}/${gw.metadata.name}`,
              match: [],
              destinations: [],
              redirect: { scheme: "https", derivePort: "FROM_PROTOCOL_DEFAULT", code: 301 },
            }],
          });
        }
        continue;
      }
      const vhosts = new Map<string, VirtualHost>(listener.virtualHosts.map((v) => [v.name, v]));
      for (const vs of bound) {
        for (const host of vs.spec.hosts) {
          const h = host.toLowerCase();
          const admitted = server.hosts.some((sh) => {
            const s = serverHostFor(sh.toLowerCase(), vs.metadata.namespace, gw.metadata.namespace);
            return s !== undefined && hostsIntersect(s, h);
          });
          if (!admitted) continue;
          let vh = vhosts.get(h);
          if (!vh) {
            vh = { name: h, domains: [h], routes: [] };
            vhosts.set(h, vh);
            listener.virtualHosts.push(vh);
          }
          vh.routes.push(
            ...translateRoutes(vs, undefined, registry, undefined, {
              namespace,
              labels,
              gateway: `${gw.metadata.namespace}/${gw.metadata.name}`,
            }),
          );
        }
      }
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}
