// bb_storage: the CAS and the action cache, in memory, and the frontend
// that forwards Execute calls to the scheduler.
local common = import 'common.libsonnet';

local inMemory(blockSizeBytes, oldBlocks, currentBlocks, newBlocks, entries) = {
  'local': {
    keyLocationMapInMemory: { entries: entries },
    keyLocationMapMaximumGetAttempts: 16,
    keyLocationMapMaximumPutAttempts: 64,
    oldBlocks: oldBlocks,
    currentBlocks: currentBlocks,
    newBlocks: newBlocks,
    // Also the largest blob that fits: 512 MiB leaves room for the
    // 256 MiB benchmark blob. Pages are touched only when written.
    blocksInMemory: { blockSizeBytes: blockSizeBytes },
  },
};

// The two guarded listeners check credentials that make-credentials.sh
// wrote; start.sh passes the CA and the key set in as environment.
local auth = common.root + '/auth';
local always = { expression: '`true`' };
local noMetadata = { expression: '`{}`' };

{
  grpcServers: [
    common.grpcServer(common.ports.storage),
    {
      listenAddresses: [common.address(common.ports.storageMutualTls)],
      tls: {
        serverKeyPair: {
          files: {
            certificatePath: auth + '/server.pem',
            privateKeyPath: auth + '/server.key',
            refreshInterval: '3600s',
          },
        },
      },
      authenticationPolicy: {
        tlsClientCertificate: {
          clientCertificateAuthorities: std.extVar('GOMABARN_BB_CA_PEM'),
          validationJmespathExpression: always,
          metadataExtractionJmespathExpression: noMetadata,
        },
      },
    },
    {
      listenAddresses: [common.address(common.ports.storageBearerToken)],
      authenticationPolicy: {
        jwt: {
          jwksInline: std.parseJson(std.extVar('GOMABARN_BB_JWKS')),
          maximumCacheSize: 100,
          cacheReplacementPolicy: 'LEAST_RECENTLY_USED',
          claimsValidationJmespathExpression: always,
          metadataExtractionJmespathExpression: noMetadata,
        },
      },
    },
  ],
  schedulers: {
    '': { endpoint: common.grpcClient(common.ports.schedulerClients) },
  },
  maximumMessageSizeBytes: common.maximumMessageSizeBytes,
  global: common.global(common.ports.diagnostics.storage),
  contentAddressableStorage: {
    backend: inMemory(512 * 1024 * 1024, 2, 4, 1, 1024 * 1024),
    getAuthorizer: common.allow,
    putAuthorizer: common.allow,
    findMissingAuthorizer: common.allow,
  },
  actionCache: {
    // Only answer cache hits whose outputs are all still in the CAS.
    backend: {
      completenessChecking: {
        backend: inMemory(16 * 1024 * 1024, 4, 8, 1, 64 * 1024),
        maximumTotalTreeSizeBytes: 64 * 1024 * 1024,
      },
    },
    getAuthorizer: common.allow,
    putAuthorizer: common.allow,
  },
  executeAuthorizer: common.allow,
}
