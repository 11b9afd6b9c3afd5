package main

import (
	"context"
	"log/slog"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// otlpTracesPath is where an OTLP/HTTP receiver takes traces (the
// OpenTelemetry Collector's default); --otlp-endpoint gets it when the URL
// names no path.
const otlpTracesPath = "/v1/traces"

// otlpURL checks --otlp-endpoint: an http or https URL, to which the
// traces path is added when it has none. The exporter would silently fall
// back to localhost for a URL it cannot parse, so it is checked here.
func otlpURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageErrorf("--otlp-endpoint must be an http:// or https:// URL (an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318), not %q", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = otlpTracesPath
	}
	return u.String(), nil
}

// newTracerProvider exports the spans of node to an OTLP/HTTP receiver at
// endpoint (a URL checked by otlpURL), in batches. The resource is
// service.name "wasmactor" and service.instance.id the node's name; the
// standard OTEL_* variables (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER...) apply on top. Export
// failures are logged to log. Shut the provider down after the node to
// flush what is left.
func newTracerProvider(ctx context.Context, endpoint, node string, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "wasmactor"), attribute.String("service.instance.id", node)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, err
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing: export failed", "endpoint", endpoint, "err", err) }))
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// flushTimeout bounds the last export when a node stops.
const flushTimeout = 5 * time.Second
