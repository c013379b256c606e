// The example's business logic: an in-memory DeploymentService that uses the verified token's
// claims, never anything the caller merely says about itself.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
// In your project: import { getAuthClaims, type AuthClaims } from "m2m-auth/interceptor";
import { getAuthClaims, type AuthClaims } from "../../src/interceptor/index.js";
import { DeploymentSchema, type Deployment, DeploymentService } from "./gen/example/v1/deployment_pb.js";

// Tokens from m2m-auth carry the client's organization in `oid`; a token from another issuer may
// not, and then the client is its own organization.
function organizationOf(claims: AuthClaims): string {
  const oid = claims["oid"];
  return typeof oid === "string" && oid !== "" ? oid : claims.client_id;
}

function required(field: string, value: string): string {
  if (value.trim() === "") throw new ConnectError(`${field}: is required`, Code.InvalidArgument);
  return value;
}

/**
 * createDeploymentService returns the DeploymentService handlers over an in-memory list. The auth
 * interceptor has already checked the token and the method's scopes before a handler runs.
 */
export function createDeploymentService(): ServiceImpl<typeof DeploymentService> {
  const deployments: { organization: string; deployment: Deployment }[] = [];
  return {
    createDeployment(req, context) {
      const claims = getAuthClaims(context);
      const deployment = create(DeploymentSchema, {
        id: `dep_${deployments.length + 1}`,
        application: required("application", req.application),
        environment: required("environment", req.environment),
        version: required("version", req.version),
        createTime: timestampNow(),
        createdBy: claims.sub,
      });
      deployments.push({ organization: organizationOf(claims), deployment });
      return { deployment };
    },

    listDeployments(req, context) {
      const organization = organizationOf(getAuthClaims(context));
      return {
        deployments: deployments
          .filter((d) => d.organization === organization)
          .filter((d) => req.environment === "" || d.deployment.environment === req.environment)
          .map((d) => d.deployment),
      };
    },
  };
}
