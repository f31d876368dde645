package pipeline

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of the pipeline format that Parse
// accepts, for editors and for `airlock` to serve. Where YAML allows a
// scalar of any type for a text field, so does the schema, because Parse
// keeps the text as written.
//
//go:embed schema.json
var Schema []byte
