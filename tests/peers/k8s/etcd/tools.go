//go:build tools

// Package tools pins the etcd server command (the main package of
// go.etcd.io/etcd/server/v3) for `go mod tidy`. Never compiled (build tag).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
