/**
 * Every document of a kind mesh reads, in Istio's whole samples/ tree (not only Bookinfo:
 * multicluster, security, the Gateway API ingress and traffic-shifting samples...), is accepted
 * as Istio accepts it, and every other document is named as not read, never dropped in silence.
 * Skipped with one line when the tree isn't on this machine (see tests/samples.ts).
 */
import assert from "node:assert/strict";
import { formatDiagnostic } from "../api/diagnostic.ts";
import { parseResources } from "../api/resources.ts";
import { istioTreeSamples, TREE_MISSING } from "./samples.ts";

const tree = await istioTreeSamples();
if (!tree) console.log(TREE_MISSING);

async function yamlFiles(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) await yamlFiles(p, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

Deno.test({
  name: "every Istio and Gateway API document in Istio's samples/ is accepted",
  ignore: !tree,
  fn: async () => {
    let read = 0;
    let notRead = 0;
    const problems: string[] = [];
    for (const path of await yamlFiles(tree!)) {
      const text = await Deno.readTextFile(path);
      if (text.includes("{{")) continue; // Helm templates, not documents
      const r = parseResources(text, path.slice(tree!.length + 1));
      read += r.resources.length;
      notRead += r.skipped.length;
      // Errors about a document's resource (files that aren't Kubernetes documents at all,
      // like Chart.yaml or an OpenAPI spec, have no kind and aren't configuration).
      for (const d of r.diagnostics) {
        if (d.severity === "error" && d.kind !== undefined) problems.push(formatDiagnostic(d));
      }
    }
    console.log(`Istio samples: ${read} resources read, ${notRead} documents named as not read`);
    assert.deepEqual(problems, []);
    assert.ok(read >= 60, `only ${read} resources read`);
  },
});
