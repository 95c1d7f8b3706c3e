module ctflow/bench/go-ipfix

go 1.23.0

require github.com/vmware/go-ipfix v0.12.0

require (
	github.com/go-logr/logr v1.4.2 // indirect
	github.com/pion/dtls/v2 v2.2.12 // indirect
	github.com/pion/logging v0.2.2 // indirect
	github.com/pion/transport/v2 v2.2.10 // indirect
	golang.org/x/crypto v0.31.0 // indirect
	golang.org/x/net v0.29.0 // indirect
	golang.org/x/sys v0.28.0 // indirect
	k8s.io/klog/v2 v2.130.1 // indirect
)
