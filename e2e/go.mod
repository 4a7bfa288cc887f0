module github.com/cors-authz/cors-authz/e2e

go 1.26.0

require github.com/cors-authz/cors-authz v0.0.0

replace github.com/cors-authz/cors-authz => ../
