// Command etcd is the etcd server of the local Kubernetes control plane, built from the
// published module (go install refuses etcd's own main package because of its replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
