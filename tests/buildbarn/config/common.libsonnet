// Settings shared by every process of gomabarn's test cluster. All state
// lives below the data root passed as the extVar BB; everything listens
// on loopback only. GOMABARN_BB_PORT_OFFSET (start.sh sets it, default 0)
// moves every port, so a second cluster can run beside the shared one.
local offset = std.parseInt(std.extVar('GOMABARN_BB_PORT_OFFSET'));
local shifted(ports) = {
  [k]: if std.isObject(ports[k]) then shifted(ports[k]) else ports[k] + offset
  for k in std.objectFields(ports)
};

{
  root: std.extVar('BB'),
  allow: { allow: {} },
  maximumMessageSizeBytes: 16 * 1024 * 1024,

  ports: shifted({
    storage: 8980,
    storageMutualTls: 8981,   // TLS, client certificate required
    storageBearerToken: 8979,  // plain text, JWT bearer token required
    schedulerClients: 8982,
    schedulerWorkers: 8983,
    buildQueueState: 8984,
    schedulerAdmin: 7982,
    diagnostics: {
      storage: 9980,
      scheduler: 9982,
      hardlinking: 9983,
      fuse: 9984,
    },
  }),

  address(port): '127.0.0.1:%d' % port,
  grpcServer(port): { listenAddresses: [$.address(port)], authenticationPolicy: $.allow },
  grpcClient(port): { address: $.address(port) },
  global(diagnosticsPort): {
    diagnosticsHttpServer: {
      httpServers: [{ listenAddresses: [$.address(diagnosticsPort)], authenticationPolicy: $.allow }],
      enablePrometheus: true,
    },
  },

  // What both worker pools advertise, sorted by name. Buildbarn matches
  // an action's platform against this whole set, exactly.
  platform: {
    properties: [
      { name: 'OSFamily', value: 'linux' },
      {
        name: 'container-image',
        value: 'docker://ghcr.io/catthehacker/ubuntu:act-22.04@sha256:dd7654ffb01d5b7b54b23b9ce928a1f7f2d08c7b3d7e320b6574b55d7ccde78b',
      },
    ],
  },

  // The workers reach the CAS and AC through bb_storage.
  remoteBlobstore: {
    contentAddressableStorage: { grpc: { client: $.grpcClient($.ports.storage) } },
    actionCache: { grpc: { client: $.grpcClient($.ports.storage) } },
  },
}
