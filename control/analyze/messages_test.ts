import assert from "node:assert/strict";
import {
  ConflictingServiceEntryProtocol,
  formatMessage,
  goList,
  type Message,
  messageRecord,
  messageTypes,
  newMessage,
  ReferencedResourceNotFound,
  SchemaValidationError,
  sortAndDedupe,
  VirtualServiceDestinationPortSelectorRequired,
  VirtualServiceIneffectiveMatch,
  VirtualServiceUnreachableRule,
} from "./messages.ts";

const vs = { kind: "VirtualService", namespace: "default", name: "reviews" };

Deno.test("formatMessage: istioctl's line, origin with file:line inside the parentheses", () => {
  const m = newMessage(ReferencedResourceNotFound, ["host", "reviews2"], {
    resource: vs,
    file: "reviews.yaml",
    line: 12,
  });
  assert.equal(
    formatMessage(m),
    'Error [IST0101] (VirtualService default/reviews reviews.yaml:12) Referenced host not found: "reviews2"',
  );
  // Without a file: only the resource, exactly the brief's form.
  assert.equal(
    formatMessage(newMessage(ReferencedResourceNotFound, ["host", "reviews2"], { resource: vs })),
    'Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews2"',
  );
  // JSON files get no line (as istioctl); cluster-scoped kinds no namespace.
  assert.equal(
    formatMessage(newMessage(ReferencedResourceNotFound, ["namespace", "x"], {
      resource: { kind: "Namespace", name: "x" },
      file: "ns.json",
      line: 3,
    })),
    'Error [IST0101] (Namespace x ns.json) Referenced namespace not found: "x"',
  );
  // No resource but a file (a YAML syntax error), and neither.
  assert.equal(
    formatMessage(newMessage(SchemaValidationError, ["invalid YAML"], { file: "a.yaml", line: 2 })),
    "Error [IST0106] (a.yaml:2) Schema validation error: invalid YAML",
  );
  assert.equal(
    formatMessage(newMessage(SchemaValidationError, ["boom"])),
    "Error [IST0106] Schema validation error: boom",
  );
});

Deno.test("message texts use Istio's templates", () => {
  assert.equal(
    VirtualServiceDestinationPortSelectorRequired.format("reviews", [9080, 9090]),
    'This VirtualService routes to a service "reviews" that exposes multiple ports [9080 9090]. ' +
      "Specifying a port in the destination is required to disambiguate.",
  );
  assert.equal(
    VirtualServiceUnreachableRule.format("#1", "all matches used by prior rules"),
    "VirtualService rule #1 not used (all matches used by prior rules).",
  );
  assert.equal(
    VirtualServiceIneffectiveMatch.format("#1", "#0", '"first"'),
    'VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule "first").',
  );
  assert.equal(
    ConflictingServiceEntryProtocol.format(
      "default/a, default/b",
      "api.example.com",
      443,
      "HTTP, TLS",
    ),
    'Multiple ServiceEntries (default/a, default/b) define the same host "api.example.com" and ' +
      "port 443 with conflicting protocols (HTTP, TLS).",
  );
  assert.equal(goList(["a", "b"]), "[a b]");
});

Deno.test("messageTypes: unique codes, Istio's levels", () => {
  const types = messageTypes();
  assert.equal(new Set(types.map((t) => t.code)).size, types.length);
  const byCode = Object.fromEntries(types.map((t) => [t.code, t]));
  assert.equal(byCode.IST0101.level, "Error");
  assert.equal(byCode.IST0131.level, "Info");
  assert.equal(byCode.IST0132.level, "Warning");
  assert.equal(byCode.IST0174.name, "UnknownDestinationRuleHost");
  assert.ok(types.every((t) => /^(IST|MSH)\d{4}$/.test(t.code)));
});

Deno.test("messageRecord: istioctl's JSON fields plus name, resource, file, line", () => {
  const m = newMessage(ReferencedResourceNotFound, ["host", "x"], {
    resource: vs,
    file: "a.yaml",
    line: 4,
  });
  assert.deepEqual(messageRecord(m), {
    code: "IST0101",
    name: "ReferencedResourceNotFound",
    level: "Error",
    origin: "VirtualService default/reviews",
    reference: "a.yaml:4",
    message: 'Referenced host not found: "x"',
    documentationUrl: "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
    resource: vs,
    file: "a.yaml",
    line: 4,
  });
  const bare = messageRecord(newMessage(SchemaValidationError, ["x"]));
  assert.deepEqual(Object.keys(bare).sort(), [
    "code",
    "documentationUrl",
    "level",
    "message",
    "name",
  ]);
});

Deno.test("sortAndDedupe: errors first, then code, resource, line; identical lines once", () => {
  const at = (line: number, name = "a"): Message =>
    newMessage(ReferencedResourceNotFound, ["host", "h"], {
      resource: { ...vs, name },
      file: "f.yaml",
      line,
    });
  const info = newMessage(VirtualServiceIneffectiveMatch, ["#1", "#0", "#0"], { resource: vs });
  const warn = newMessage(VirtualServiceUnreachableRule, ["#1", "r"], { resource: vs });
  const sorted = sortAndDedupe([info, at(12), warn, at(9), at(12), at(3, "b")]);
  assert.deepEqual(sorted.map((m) => [m.code, m.resource?.name, m.line]), [
    ["IST0101", "a", 9],
    ["IST0101", "a", 12],
    ["IST0101", "b", 3],
    ["IST0130", "reviews", undefined],
    ["IST0131", "reviews", undefined],
  ]);
});
