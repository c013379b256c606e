import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  IntrospectTokenResponseSchema,
  IssueTokenResponseSchema,
  RevokeTokenResponseSchema,
  ValidateTokenResponseSchema,
  type TokenService as TokenServiceDesc,
} from "../../gen/m2mauth/v1/tokens_pb.js";
import type { AddressRateLimit } from "../tokens/address-rate-limit.js";
import type { ClientAuthenticator, PresentedCredentials } from "../tokens/authenticate.js";
import { authenticateCaller, type TokenIntrospector } from "../tokens/introspection.js";
import { clientAssertionOf } from "../tokens/client-assertion.js";
import type { TokenService } from "../tokens/token-service.js";
import type { TokenValidator } from "../tokens/token-validator.js";
import { originOf } from "./request-origin.js";

// An empty field is an absent one in proto3.
function assertionOf(req: { clientSecret: string; clientAssertionType: string; clientAssertion: string }): string | undefined {
  return clientAssertionOf(req.clientAssertionType || undefined, req.clientAssertion || undefined, req.clientSecret !== "");
}

// The credentials a TokenService message presents, as the OAuth endpoints read them from a form.
function credentialsOf(
  req: { clientId: string; clientSecret: string; clientAssertionType: string; clientAssertion: string },
  ctx: HandlerContext,
): PresentedCredentials {
  return { clientId: req.clientId, clientSecret: req.clientSecret, clientAssertion: assertionOf(req), origin: originOf(ctx) };
}

/** TokenRpcIntrospection is what IntrospectToken and RevokeToken need: the token endpoint's authenticator and the introspector. */
export interface TokenRpcIntrospection {
  authenticator: ClientAuthenticator;
  introspector: TokenIntrospector;
  /** validateLimit bounds ValidateToken calls per source address (M2M_VALIDATE_TOKEN_PER_SECOND); unset: none. */
  validateLimit?: AddressRateLimit | undefined;
}

/** createTokenRpc implements TokenService: the same token paths as `POST /oauth/token`, `/oauth/introspect` and `/oauth/revoke`. */
export function createTokenRpc(tokens: TokenService, validator: TokenValidator, introspection: TokenRpcIntrospection): ServiceImpl<typeof TokenServiceDesc> {
  return {
    async issueToken(req, ctx) {
      // RFC 6749 §5.1: a token response must not be cached.
      ctx.responseHeader.set("cache-control", "no-store");
      const response = await tokens.issue({
        // The RPC has one grant; an empty grant_type means it, as the proto documents.
        grantType: req.grantType === "" ? "client_credentials" : req.grantType,
        clientId: req.clientId,
        clientSecret: req.clientSecret,
        clientAssertion: assertionOf(req),
        scope: req.scope,
        audience: req.audience,
        resource: req.resource,
        origin: originOf(ctx),
      });
      return create(IssueTokenResponseSchema, {
        accessToken: response.access_token,
        tokenType: response.token_type,
        expiresIn: response.expires_in,
        scope: response.scope ?? "",
      });
    },
    async validateToken(req, ctx) {
      // Public, and a signature check per call: bounded per source address, before any work.
      introspection.validateLimit?.take(originOf(ctx).sourceAddress);
      return create(ValidateTokenResponseSchema, await validator.validate(req.token, req.audience));
    },
    async introspectToken(req, ctx) {
      // RFC 7662 §2.2 answers carry token metadata: not to be cached, as a token response.
      ctx.responseHeader.set("cache-control", "no-store");
      const { caller } = await authenticateCaller(introspection.authenticator, credentialsOf(req, ctx), req.token);
      const answer = await introspection.introspector.introspect(req.token, caller);
      if (!answer.active) return create(IntrospectTokenResponseSchema, { active: false });
      const { active: _active, ...claims } = answer;
      return create(IntrospectTokenResponseSchema, { active: true, claims });
    },
    async revokeToken(req, ctx) {
      const { caller } = await authenticateCaller(introspection.authenticator, credentialsOf(req, ctx), req.token);
      await introspection.introspector.revoke(req.token, caller);
      return create(RevokeTokenResponseSchema, {});
    },
  };
}
