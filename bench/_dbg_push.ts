import { bookinfoConfig, runPushCase } from "./push.ts";
try {
  const c = await runPushCase(100, bookinfoConfig(), 2, (m) => console.error(m));
  console.log(JSON.stringify(c, null, 1));
} catch (e) {
  console.error("ERR", e, (e as Error).cause);
}
