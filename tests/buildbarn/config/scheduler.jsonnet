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
  // Buildbarn's reference deployment (bb-deployments) value, so tests see
  // what users see: after start-up, "no workers" answers UNAVAILABLE this
  // long (workers may still be registering), then FAILED_PRECONDITION;
  // and a pool whose workers all disappeared keeps its queued actions
  // this long before failing them. gomabarn's exec.max_queued_s and pool
  // health are what keep compiles from waiting that long.
  platformQueueWithNoWorkersTimeout: '900s',
}
