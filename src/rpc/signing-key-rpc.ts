import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ListSigningKeysResponseSchema,
  RotateSigningKeyResponseSchema,
  SigningKeySchema,
  SigningKeyStatus,
  type SigningKey,
  type SigningKeyService,
} from "../../gen/m2mauth/v1/keys_pb.js";
import { PermissionDeniedError } from "../errors.js";
import { callerOf } from "./caller.js";
import type { KeyInfo, KeyRing, KeyStatus } from "../keys/key-ring.js";

const statuses: Record<KeyStatus, SigningKeyStatus> = {
  current: SigningKeyStatus.CURRENT,
  next: SigningKeyStatus.NEXT,
  previous: SigningKeyStatus.PREVIOUS,
};

/** toSigningKey describes a key of the ring as the API does; the private key never leaves. */
export function toSigningKey(key: KeyInfo): SigningKey {
  return create(SigningKeySchema, {
    kid: key.kid,
    alg: key.alg,
    status: statuses[key.status],
    createTime: timestampFromMs(key.createTime),
    activateTime: key.activateTime === undefined ? undefined : timestampFromMs(key.activateTime),
    retireTime: key.retireTime === undefined ? undefined : timestampFromMs(key.retireTime),
  });
}

// The scopes are enforced by the auth interceptor from the proto options; the issuer's keys are
// the environment's, so an organization's admin may not touch them even with those scopes.
function requireEnvironmentAdmin(context: HandlerContext): void {
  if (callerOf(context).organizationId !== undefined) throw new PermissionDeniedError("signing keys are managed by the environment's admin");
}

/** createSigningKeyRpc implements SigningKeyService over the key ring. */
export function createSigningKeyRpc(keyRing: KeyRing): ServiceImpl<typeof SigningKeyService> {
  return {
    async listSigningKeys(_req, context) {
      requireEnvironmentAdmin(context);
      return create(ListSigningKeysResponseSchema, { keys: keyRing.list().map(toSigningKey) });
    },
    async rotateSigningKey(req, context) {
      requireEnvironmentAdmin(context);
      return create(RotateSigningKeyResponseSchema, { key: toSigningKey(await keyRing.rotate({ force: req.force })) });
    },
  };
}
