// The `hardlinking` pool: a native build directory whose input files are
// hardlinked from a local cache on the same filesystem.
local common = import 'common.libsonnet';
local dir = common.root + '/hardlinking';

{
  blobstore: common.remoteBlobstore,
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  scheduler: common.grpcClient(common.ports.schedulerWorkers),
  global: common.global(common.ports.diagnostics.hardlinking),
  buildDirectories: [{
    native: {
      buildDirectoryPath: dir + '/build',
      cacheDirectoryPath: dir + '/cache',
      maximumCacheFileCount: 10000,
      maximumCacheSizeBytes: 1024 * 1024 * 1024,
      cacheReplacementPolicy: 'LEAST_RECENTLY_USED',
    },
    runners: [{
      endpoint: { address: 'unix://' + dir + '/runner.sock' },
      concurrency: 4,
      instanceNamePrefix: 'hardlinking',
      platform: common.platform,
      workerId: { pool: 'hardlinking', host: 'localhost' },
    }],
  }],
  inputDownloadConcurrency: 10,
  outputUploadConcurrency: 10,
}
