// A stand-in worker for test/primary.test.ts, plain JavaScript so that a fork starts in tens of
// milliseconds (tsx takes a second). It speaks the protocol of src/primary.ts's notifyListening;
// test/main-workers.test.ts runs the real workers. FIXTURE_MODE says how it behaves:
//   serve   listen; on SIGTERM exit 0        crash   listen, then exit 1 after 50 ms
//   refuse  exit 2 before listening          silent  never listen
//   dirty   listen; on SIGTERM exit 3
//   reload  listen after 300 ms, only then survive SIGHUP (as main.ts), telling the primary of each
import cluster from "node:cluster";

const mode = process.env["FIXTURE_MODE"] ?? "serve";
const listening = () => process.send({ type: "m2m-auth:listening", url: "http://127.0.0.1:1" });
const keepAlive = setInterval(() => {}, 60_000);
const exit = (code) => {
  clearInterval(keepAlive);
  process.exitCode = code;
  // As releaseWorker does: a bare process.disconnect() would make node:cluster exit 0.
  cluster.worker.disconnect();
};

if (mode === "refuse") exit(2);
else if (mode === "crash") {
  listening();
  setTimeout(() => process.exit(1), 50);
} else if (mode === "reload") {
  process.on("SIGTERM", () => exit(0));
  setTimeout(() => {
    process.on("SIGHUP", () => process.send({ type: "fixture:reloaded" }));
    listening();
  }, 300);
} else if (mode === "serve" || mode === "dirty") {
  process.on("SIGTERM", () => setTimeout(() => exit(mode === "serve" ? 0 : 3), 20));
  listening();
}
