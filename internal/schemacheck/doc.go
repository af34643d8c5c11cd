// Package schemacheck validates JSON documents against a set of JSON
// Schemas (draft 2020-12 by default) loaded from a directory, typically a
// test's testdata/schemas. Schemas may reference each other by relative
// file name ("defs.json#/$defs/mapper"). It wraps
// github.com/santhosh-tekuri/jsonschema/v6 so that tests across the module
// share one way of checking wire shapes.
//
// # Concurrency
//
// A Set is immutable after Load and safe for concurrent use.
//
// # Errors
//
// Load fails on unreadable or invalid schema files; Validate returns an
// error naming the schema and describing every violation, or one that
// matches ErrUnknownSchema.
package schemacheck
