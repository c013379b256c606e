// What the rpc-service bench server can be asked to run, shared by the server and its scenario.

/** RpcVariant is what guards the bench's RPC service. */
export type RpcVariant = "none" | "interceptor" | "interceptor-nocache" | "interceptor-revocation" | "naive";

/** RPC_VARIANTS lists every RpcVariant. */
export const RPC_VARIANTS: readonly RpcVariant[] = ["none", "interceptor", "interceptor-nocache", "interceptor-revocation", "naive"];

/** REVOKED_LISTED is how many revoked jtis the interceptor-revocation variant's list holds (one of them the unscoped token's). */
export const REVOKED_LISTED = 100;

/** RPC_PATH is the procedure the load calls: ListDeployments, whose required scope is read:deployments. */
export const RPC_PATH = "/example.v1.DeploymentService/ListDeployments";
