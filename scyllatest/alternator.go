package scyllatest

import (
	"encoding/json"
	"io"
	"net/http"
)

// alternatorSystemTable is the table the Alternator ping scans.
const alternatorSystemTable = ".scylla.alternator.system_schema.tables"

// newAlternatorHandler serves the part of the DynamoDB API the Alternator
// health check uses: GET / and Scan of the system schema table.
func (n *Node) newAlternatorHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.Up() {
			http.Error(w, "node stopped", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "healthy: "+n.IP+"\n")
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/" {
			dynamoError(w, http.StatusBadRequest, "UnknownOperationException", "unsupported request "+r.Method+" "+r.URL.Path)
			return
		}
		target := r.Header.Get("X-Amz-Target")
		var req struct {
			TableName string
			Limit     int
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			dynamoError(w, http.StatusBadRequest, "SerializationException", "malformed JSON body: "+err.Error())
			return
		}
		switch {
		case target != "DynamoDB_20120810.Scan":
			dynamoError(w, http.StatusBadRequest, "UnknownOperationException", "unsupported operation "+target)
		case req.TableName != alternatorSystemTable:
			dynamoError(w, http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Table: "+req.TableName+" not found")
		default:
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			_ = json.NewEncoder(w).Encode(map[string]any{"Count": 0, "ScannedCount": 0, "Items": []any{}})
		}
	})
}

func dynamoError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg})
}
