import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { IssueTokenResponseSchema, ValidateTokenResponseSchema, type TokenService as TokenServiceDesc } from "../../gen/m2mauth/v1/tokens_pb.js";
import { clientAssertionOf } from "../tokens/client-assertion.js";
import type { TokenService } from "../tokens/token-service.js";
import type { TokenValidator } from "../tokens/token-validator.js";

/** createTokenRpc implements TokenService: the same token path as `POST /oauth/token`. */
export function createTokenRpc(tokens: TokenService, validator: TokenValidator): ServiceImpl<typeof TokenServiceDesc> {
  return {
    async issueToken(req, ctx) {
      // RFC 6749 §5.1: a token response must not be cached.
      ctx.responseHeader.set("cache-control", "no-store");
      const response = await tokens.issue({
        // The RPC has one grant; an empty grant_type means it, as the proto documents.
        grantType: req.grantType === "" ? "client_credentials" : req.grantType,
        clientId: req.clientId,
        clientSecret: req.clientSecret,
        // An empty field is an absent one in proto3.
        clientAssertion: clientAssertionOf(req.clientAssertionType || undefined, req.clientAssertion || undefined, req.clientSecret !== ""),
        scope: req.scope,
        audience: req.audience,
      });
      return create(IssueTokenResponseSchema, {
        accessToken: response.access_token,
        tokenType: response.token_type,
        expiresIn: response.expires_in,
        scope: response.scope ?? "",
      });
    },
    async validateToken(req) {
      return create(ValidateTokenResponseSchema, await validator.validate(req.token, req.audience));
    },
  };
}
