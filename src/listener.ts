// The one-port listener entry, the package export `m2m-auth/listener`: HTTP/1.1 and HTTP/2 on
// one TCP port, in cleartext (h2c told apart by the HTTP/2 preface, RFC 9113 §3.4) or over TLS
// (`tls`: ALPN h2 and http/1.1, TLS 1.2 or later), so that gRPC (HTTP/2 only), gRPC-Web and the
// Connect protocol from curl or a browser (mostly HTTP/1.1) all reach the same handler, e.g.
// `connectNodeAdapter(...)` behind m2m-auth/interceptor. The token service serves on it; it
// imports nothing but node: modules (test/packaging checks), so a service needs neither Redis nor
// pino for it. Kept apart from m2m-auth/interceptor, which holds no server code.
export { createListener, type Listener, type ListenerAddress, type ListenerOptions, type RequestHandler, type TlsCredentials } from "./http/listener.js";
export type { ListenerLimits } from "./http/limits.js";
