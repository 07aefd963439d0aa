// Wrapper module for building etcd from the Go module proxy (see build.ts). Its own module
// so that etcd's dependencies don't bump kube-apiserver's etcd client or grpc.
module k8speer/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.7.3
