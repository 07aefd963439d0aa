//go:build tools

// Package tools pins the commands build.ts builds, so that `go mod tidy` keeps their
// dependencies. Never compiled (build tag).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
