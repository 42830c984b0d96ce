module github.com/bittern/bittern

go 1.25.0

require (
	github.com/jackpal/bencode-go v1.0.2
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.17.0
	golang.org/x/time v0.13.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
