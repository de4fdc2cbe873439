// bb_runner for the `hardlinking` pool: runs commands in its build directory.
local common = import 'common.libsonnet';
local dir = common.root + '/hardlinking';

{
  buildDirectoryPath: dir + '/build',
  grpcServers: [{ listenPaths: [dir + '/runner.sock'], authenticationPolicy: common.allow }],
}
