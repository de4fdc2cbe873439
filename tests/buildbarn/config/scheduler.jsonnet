// bb_scheduler: one queue per (instance name prefix, platform); the
// platform is read from Action.platform only (REv2 2.2+).
local common = import 'common.libsonnet';

{
  clientGrpcServers: [common.grpcServer(common.ports.schedulerClients)],
  workerGrpcServers: [common.grpcServer(common.ports.schedulerWorkers)],
  buildQueueStateGrpcServers: [common.grpcServer(common.ports.buildQueueState)],
  adminHttpServers: [{
    listenAddresses: [common.address(common.ports.schedulerAdmin)],
    authenticationPolicy: common.allow,
  }],
  browserUrl: 'http://127.0.0.1:7984',
  contentAddressableStorage: { grpc: { client: common.grpcClient(common.ports.storage) } },
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  global: common.global(common.ports.diagnostics.scheduler),
  executeAuthorizer: common.allow,
  modifyDrainsAuthorizer: common.allow,
  killOperationsAuthorizer: common.allow,
  synchronizeAuthorizer: common.allow,
  actionRouter: {
    simple: {
      platformKeyExtractor: { action: {} },
      invocationKeyExtractors: [
        { correlatedInvocationsId: {} },
        { toolInvocationId: {} },
      ],
      initialSizeClassAnalyzer: {
        defaultExecutionTimeout: '1800s',
        maximumExecutionTimeout: '7200s',
      },
    },
  },
  // After start-up, "no workers" answers UNAVAILABLE this long (workers
  // may still be registering), then FAILED_PRECONDITION.
  platformQueueWithNoWorkersTimeout: '15s',
}
