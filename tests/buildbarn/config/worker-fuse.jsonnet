// The `fuse` pool: a virtual build directory that bb_worker mounts over
// FUSE, fetching input files lazily; written files go to a file pool.
local common = import 'common.libsonnet';
local dir = common.root + '/fuse';

{
  blobstore: common.remoteBlobstore {
    // Inputs are read through a local in-memory cache in front of bb_storage.
    contentAddressableStorage: {
      readCaching: {
        slow: { grpc: { client: common.grpcClient(common.ports.storage) } },
        fast: {
          'local': {
            keyLocationMapInMemory: { entries: 256 * 1024 },
            keyLocationMapMaximumGetAttempts: 16,
            keyLocationMapMaximumPutAttempts: 64,
            oldBlocks: 2,
            currentBlocks: 4,
            newBlocks: 1,
            blocksInMemory: { blockSizeBytes: 64 * 1024 * 1024 },
          },
        },
        replicator: { deduplicating: { 'local': {} } },
      },
    },
  },
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  scheduler: common.grpcClient(common.ports.schedulerWorkers),
  global: common.global(common.ports.diagnostics.fuse),
  filePool: { blockDevice: { file: { path: dir + '/filepool', sizeBytes: 1024 * 1024 * 1024 } } },
  buildDirectories: [{
    virtual: {
      mount: {
        mountPath: dir + '/build',
        fuse: {
          directoryEntryValidity: '300s',
          inodeAttributeValidity: '300s',
          allowOther: true,
          // Mount through /dev/fuse directly (we run as root).
          mountMethod: 'DIRECT',
        },
      },
      maximumExecutionTimeoutCompensation: '3600s',
      shuffleDirectoryListings: true,
      maximumWritableFileUploadDelay: '60s',
    },
    runners: [{
      endpoint: { address: 'unix://' + dir + '/runner.sock' },
      concurrency: 4,
      instanceNamePrefix: 'fuse',
      platform: common.platform,
      maximumFilePoolFileCount: 100000,
      maximumFilePoolSizeBytes: 1024 * 1024 * 1024,
      workerId: { pool: 'fuse', host: 'localhost' },
    }],
  }],
  inputDownloadConcurrency: 10,
  outputUploadConcurrency: 10,
}
