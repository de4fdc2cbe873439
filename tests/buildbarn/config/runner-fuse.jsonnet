// bb_runner for the `fuse` pool: its build directory is the worker's mount.
local common = import 'common.libsonnet';
local dir = common.root + '/fuse';

{
  buildDirectoryPath: dir + '/build',
  grpcServers: [{ listenPaths: [dir + '/runner.sock'], authenticationPolicy: common.allow }],
}
