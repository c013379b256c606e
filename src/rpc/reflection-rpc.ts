import { create, createRegistry, fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

// gRPC server reflection (github.com/grpc/grpc/blob/master/doc/server-reflection.md), so that
// `buf curl`, grpcurl and grpc_cli can list and call the services without the .proto files. Built
// on the descriptors protoc-gen-es embeds in gen/: each generated file carries its
// FileDescriptorProto and its dependencies, which is exactly what reflection sends.

/** ReflectionRpc holds both versions of grpc.reflection ServerReflection over one set of services. */
export interface ReflectionRpc {
  /** v1 implements grpc.reflection.v1.ServerReflection. */
  readonly v1: ServiceImpl<typeof v1.ServerReflection>;
  /** v1alpha implements grpc.reflection.v1alpha.ServerReflection, wire-identical to v1. */
  readonly v1alpha: ServiceImpl<typeof v1alpha.ServerReflection>;
}

type Answer = v1.ServerReflectionResponse["messageResponse"];

/**
 * createReflectionRpc answers reflection requests about `services` (every service the server
 * registers, the reflection services included) and the files they need, transitively.
 */
export function createReflectionRpc(services: readonly DescService[]): ReflectionRpc {
  // Every file reachable from a service, by name: the symbols a caller may look up are theirs.
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(visit);
  };
  for (const service of services) visit(service.file);
  const registry = createRegistry(...files.values());
  const serialized = new Map<string, Uint8Array>();
  const bytesOf = (file: DescFile): Uint8Array => {
    let bytes = serialized.get(file.proto.name);
    if (bytes === undefined) serialized.set(file.proto.name, (bytes = toBinary(FileDescriptorProtoSchema, file.proto)));
    return bytes;
  };

  // The file first, then everything it imports, transitively: a client builds descriptors only
  // from a complete set. (The spec lets a server skip files sent earlier on the stream; sending
  // them again costs a few kB and keeps each answer self-contained.)
  function withDependencies(file: DescFile): Answer {
    const set = new Set<DescFile>();
    const add = (f: DescFile): void => {
      if (set.has(f)) return;
      set.add(f);
      f.dependencies.forEach(add);
    };
    add(file);
    const fileDescriptorResponse = create(v1.FileDescriptorResponseSchema, { fileDescriptorProto: [...set].map(bytesOf) });
    return { case: "fileDescriptorResponse", value: fileDescriptorResponse };
  }

  function error(code: Code, message: string): Answer {
    return { case: "errorResponse", value: create(v1.ErrorResponseSchema, { errorCode: code, errorMessage: message }) };
  }

  // A symbol is a type (message, enum, extension, service, nested ones too) or a method, written
  // `package.Service.Method`.
  function fileOfSymbol(symbol: string): DescFile | undefined {
    const type = registry.get(symbol);
    if (type !== undefined) return type.file;
    const dot = symbol.lastIndexOf(".");
    const service = dot > 0 ? registry.getService(symbol.slice(0, dot)) : undefined;
    return service?.methods.some((m) => m.name === symbol.slice(dot + 1)) ? service.file : undefined;
  }

  function answer(request: v1.ServerReflectionRequest): Answer {
    const { case: kind, value } = request.messageRequest;
    switch (kind) {
      case "listServices":
        return { case: "listServicesResponse", value: create(v1.ListServiceResponseSchema, { service: services.map((s) => ({ name: s.typeName })) }) };
      case "fileByFilename": {
        const file = files.get(value);
        return file ? withDependencies(file) : error(Code.NotFound, `file not found: ${value}`);
      }
      case "fileContainingSymbol": {
        const file = fileOfSymbol(value);
        return file ? withDependencies(file) : error(Code.NotFound, `symbol not found: ${value}`);
      }
      case "fileContainingExtension": {
        const extendee = registry.getMessage(value.containingType);
        const extension = extendee && registry.getExtensionFor(extendee, value.extensionNumber);
        return extension ? withDependencies(extension.file) : error(Code.NotFound, `extension not found: ${value.containingType}(${value.extensionNumber})`);
      }
      case "allExtensionNumbersOfType": {
        if (registry.getMessage(value) === undefined) return error(Code.NotFound, `type not found: ${value}`);
        const extensionNumber = [...registry].flatMap((d) => (d.kind === "extension" && d.extendee.typeName === value ? [d.number] : []));
        return { case: "allExtensionNumbersResponse", value: create(v1.ExtensionNumberResponseSchema, { baseTypeName: value, extensionNumber }) };
      }
      default:
        return error(Code.InvalidArgument, "the request sets none of the message_request fields this server knows");
    }
  }

  const respond = (request: v1.ServerReflectionRequest): v1.ServerReflectionResponse =>
    create(v1.ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse: answer(request) });

  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) yield respond(request);
      },
    },
    v1alpha: {
      // The same messages under another package: converted through their identical wire form.
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          const response = respond(fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request)));
          yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, response));
        }
      },
    },
  };
}
