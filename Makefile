# scimless — developer targets. `make test` is what CI runs (via .ci/run).
GO        ?= go
CDK       ?= CDK_DISABLE_CLI_TELEMETRY=true npx --yes aws-cdk@2.1034.0
STAGE     ?= dev
PKGS      := ./...
FUZZTIME  ?= 3m
BENCHTIME ?= 1x

.PHONY: test vet fmt-check build lambda lambda-init bench bench-scale figures-xaas figures-events figures-webhooks fuzz synth infra-test deploy run clean

## test: vet, format check and the full test suite; the race detector runs on the packages with concurrency
RACE_PKGS := ./pkg/scim/... ./pkg/store/... ./pkg/localdb/... ./pkg/xaas/... ./pkg/auth/... ./pkg/ratelimit/... ./pkg/events/... ./pkg/webhook/...
test: fmt-check vet
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '/pkg/(scim|store|localdb|xaas|auth|ratelimit|events|webhook)(/|$$)')

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## run: the local stack (same as the README's `go run ./cmd/scimless dev`)
run:
	$(GO) run ./cmd/scimless dev

## build: the CLI into bin/
build:
	$(GO) build -o bin/scimless ./cmd/scimless

## lambda: the Lambda binaries for linux/arm64 as AWS runs them; prints their sizes
lambda:
	@for f in functions/*/; do n=$$(basename $$f); \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o dist/$$n/bootstrap ./functions/$$n && \
	  (cd dist/$$n && rm -f $$n.zip && python3 -c "import zipfile,sys; z=zipfile.ZipFile('$$n.zip','w',zipfile.ZIP_DEFLATED); z.write('bootstrap'); z.close()") && \
	  echo "$$n: bootstrap $$(stat -c %s dist/$$n/bootstrap) bytes, zip $$(stat -c %s dist/$$n/$$n.zip) bytes"; done

## lambda-init: Lambda figures: linux/arm64 binary and zip size, init time (median/p90 of cold starts on this machine)
lambda-init:
	$(GO) run ./cmd/lambdainit -runs 20

## bench: hot-path benchmarks and the per-request DynamoDB cost report
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./pkg/scim/... ./pkg/auth/...
	$(GO) test -run 'TestCostReport' -v -count=1 ./pkg/scim/ | grep -E '^(=== RUN|    cost|--- )' || true
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 5x ./pkg/xaas/...

## bench-scale: the 10,000-user Okta import figure (items read per user)
bench-scale:
	SCIMLESS_SCALE=10000 $(GO) test -run 'TestImportScale|TestGroupCostReport|TestGroupImportPaging' -v -count=1 -timeout 60m ./pkg/scim/ | grep -E '^(=== RUN|\s+\S+_test.go:[0-9]+: cost|--- |ok|FAIL)' 

## figures-xaas: the XaaS figures against the fake Okta (5-minute gap simulated): 100,000-row CSV ingest, first push of 100,000 users, 100 changed of 100,000
figures-xaas:
	SCIMLESS_XAAS_FIGURES=100000 $(GO) test -run 'TestFigures$$' -v -count=1 -timeout 4h ./pkg/xaas/ | grep -E 'FIGURE|^(--- |ok|FAIL)'

## figures-events: events per SCIM request through the real handler (exact) and consumer throughput in events/s
figures-events:
	$(GO) test -run '^$$' -bench 'EventsPerOperation' -benchtime 1x -count=1 ./pkg/events/consumer | grep -E 'events/op|^(ok|FAIL)|--- FAIL'
	$(GO) test -run '^$$' -bench 'ConsumerThroughput' -benchtime 20x -count=1 ./pkg/events/consumer | grep -E 'events/s|^(ok|FAIL)'

## figures-webhooks: 10,000 webhook deliveries to a local receiver that answers 500 on 1 % and is down for 5 s
figures-webhooks:
	SCIMLESS_DELIVERY_RUN=1 $(GO) test -run 'TestDeliveryRun$$' -v -count=1 -timeout 10m ./pkg/webhook/delivery | grep -vE '^(=== RUN|[0-9]{4}/)'

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pkg/scim/filter
	$(GO) test -run '^$$' -fuzz '^FuzzParsePath$$' -fuzztime $(FUZZTIME) ./pkg/scim/filter
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeApply$$' -fuzztime $(FUZZTIME) ./pkg/scim/patch
	$(GO) test -run '^$$' -fuzz '^FuzzPath$$' -fuzztime $(FUZZTIME) ./pkg/scim/patch
	$(GO) test -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime $(FUZZTIME) ./pkg/webhook
	$(GO) test -run '^$$' -fuzz '^FuzzDerive$$' -fuzztime $(FUZZTIME) ./pkg/events
	$(GO) test -run '^$$' -fuzz '^FuzzParseTypes$$' -fuzztime $(FUZZTIME) ./pkg/events
	$(GO) test -run '^$$' -fuzz '^FuzzQuery$$' -fuzztime $(FUZZTIME) ./pkg/events/api
	$(GO) test -run '^$$' -fuzz '^FuzzParseFlows$$' -fuzztime $(FUZZTIME) ./pkg/selftest
	$(GO) test -run '^$$' -fuzz '^FuzzParseListResponse$$' -fuzztime $(FUZZTIME) ./pkg/selftest
	$(GO) test -run '^$$' -fuzz '^FuzzParseEventPage$$' -fuzztime $(FUZZTIME) ./pkg/selftest
	$(GO) test -run '^$$' -fuzz '^FuzzRetryAfter$$' -fuzztime $(FUZZTIME) ./pkg/selftest
	$(GO) test -run '^$$' -fuzz FuzzDecodeResource -fuzztime $(FUZZTIME) ./pkg/scim
	$(GO) test -run '^$$' -fuzz FuzzParseExtensionFile -fuzztime $(FUZZTIME) ./pkg/scim/schema
	$(GO) test -run '^$$' -fuzz '^FuzzBulkCSV$$' -fuzztime $(FUZZTIME) ./pkg/xaas
	$(GO) test -run '^$$' -fuzz '^FuzzBulkNDJSON$$' -fuzztime $(FUZZTIME) ./pkg/xaas
	$(GO) test -run '^$$' -fuzz '^FuzzMapping$$' -fuzztime $(FUZZTIME) ./pkg/xaas
	$(GO) test -run '^$$' -fuzz '^FuzzCursor$$' -fuzztime $(FUZZTIME) ./pkg/xaas
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeError$$' -fuzztime $(FUZZTIME) ./pkg/xaas/okta
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeUpsertUsers$$' -fuzztime $(FUZZTIME) ./pkg/xaas/okta
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeSession$$' -fuzztime $(FUZZTIME) ./pkg/xaas/okta
	$(GO) test -run '^$$' -fuzz '^FuzzParsePrivateKey$$' -fuzztime $(FUZZTIME) ./pkg/xaas/okta
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyAssertion$$' -fuzztime $(FUZZTIME) ./pkg/xaas/oktafake
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeUpload$$' -fuzztime $(FUZZTIME) ./pkg/xaas/oktafake
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeItem$$' -fuzztime $(FUZZTIME) ./pkg/localdb
	$(GO) test -run '^$$' -fuzz '^FuzzExpressions$$' -fuzztime $(FUZZTIME) ./pkg/localdb
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeGetItem$$' -fuzztime $(FUZZTIME) ./pkg/localdb
	$(GO) test -run '^$$' -fuzz '^FuzzCheckText$$' -fuzztime $(FUZZTIME) ./pkg/scim
	$(GO) test -run '^$$' -fuzz '^FuzzParseSearchBody$$' -fuzztime $(FUZZTIME) ./pkg/scim
	$(GO) test -run '^$$' -fuzz '^FuzzClientKey$$' -fuzztime $(FUZZTIME) ./pkg/auth
	$(GO) test -run '^$$' -fuzz '^FuzzQuotedLen$$' -fuzztime $(FUZZTIME) ./pkg/jsonstr
	$(GO) test -run '^$$' -fuzz '^FuzzParseServerError$$' -fuzztime $(FUZZTIME) ./cmd/scimless

## synth: build the Lambdas for linux/arm64 and write cdk.out/ (STAGE=dev|prod); cdk-nag findings fail it
synth:
	$(CDK) synth --no-notices -q --strict -c stage=$(STAGE)

## infra-test: CDK assertion tests + cdk-nag (infra/ is its own Go module)
infra-test:
	cd infra && $(GO) vet ./... && $(GO) test -count=1 ./...

## deploy: deploy STAGE with your AWS credentials
deploy:
	$(CDK) deploy --no-notices -c stage=$(STAGE)

clean:
	rm -rf bin dist cdk.out

## soak: SOAK_CLIENTS clients send the Okta and Entra mix for SOAK_DURATION on the local stack; fails on any 5xx, lost or phantom write, or orphan item in the table (not part of `make test`)
SOAK_CLIENTS  ?= 8
SOAK_DURATION ?= 60s
.PHONY: soak
soak:
	$(GO) run ./cmd/scimless soak -clients $(SOAK_CLIENTS) -duration $(SOAK_DURATION)

.PHONY: bench-engine figures-local

## bench-engine: embedded engine, median and p99 per operation at 1k, 10k and 100k items (docs/engine.md)
bench-engine:
	$(GO) test -run '^$$' -bench 'BenchmarkEngine' -benchtime 5000x -timeout 30m ./pkg/localdb/

## figures-local: the SCIM handler on the local stack (8 clients, rate limit lifted) at 1k and 100k users
figures-local:
	SCIMLESS_LOCAL_FIGURES=1000,100000 $(GO) test -run 'TestLocalFigures$$' -v -count=1 -timeout 2h ./cmd/scimless/ | grep -E 'FIGURE|^(--- |ok|FAIL)'
