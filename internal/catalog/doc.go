// Package catalog loads the service catalog, .airlock/catalog.yml: the
// services Airlock builds, who owns them, their links and their pipelines.
// Adding a service is a pull request to that file. The dashboard reads the
// same file when it is built (site/lib/catalog.ts) and makes a page per
// service; this package is what CI validates it with (TestCommittedCatalog).
//
// The file is checked against the JSON Schema in catalog.schema.json (the
// same document editors use, embedded as Schema), so the schema is the one
// statement of the format. What a schema cannot say is checked here too:
// duplicate YAML keys, anchors and aliases, unique service IDs and pipeline
// names, and, when loaded from a repository (LoadRepo), that every pipeline
// file exists in it. Every problem is reported with file:line:column.
package catalog
