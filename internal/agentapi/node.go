package agentapi

// NodeInfo is the answer of GET /agent/node_info. Port fields are strings,
// as upstream sends them.
type NodeInfo struct {
	ListenAddress                  string `json:"listen_address"`
	NativeTransportPort            string `json:"native_transport_port"`
	NativeTransportPortSsl         string `json:"native_transport_port_ssl"`
	RPCAddress                     string `json:"rpc_address"`
	RPCPort                        string `json:"rpc_port"`
	BroadcastAddress               string `json:"broadcast_address"`
	BroadcastRPCAddress            string `json:"broadcast_rpc_address"`
	APIAddress                     string `json:"api_address"`
	APIPort                        string `json:"api_port"`
	PrometheusAddress              string `json:"prometheus_address"`
	PrometheusPort                 string `json:"prometheus_port"`
	ClientEncryptionEnabled        bool   `json:"client_encryption_enabled"`
	ClientEncryptionRequireAuth    bool   `json:"client_encryption_require_auth"`
	CqlPasswordProtected           bool   `json:"cql_password_protected"`
	AlternatorPort                 string `json:"alternator_port"`
	AlternatorHTTPSPort            string `json:"alternator_https_port"`
	AlternatorAddress              string `json:"alternator_address"`
	AlternatorEnforceAuthorization bool   `json:"alternator_enforce_authorization"`
	MemoryTotal                    int64  `json:"memory_total"`
	Uptime                         int64  `json:"uptime"`
	CPUCount                       int64  `json:"cpu_count"`
	ScyllaVersion                  string `json:"scylla_version"`
	AgentVersion                   string `json:"agent_version"`
	SstableUUIDFormat              bool   `json:"sstable_uuid_format"`
	ConsistentClusterManagement    bool   `json:"consistent_cluster_management"`
	EnableTablets                  bool   `json:"enable_tablets"`
	DataDirectory                  string `json:"data_directory"`
	StorageSize                    uint64 `json:"storage_size"`
	// ObjectStorageEndpoints maps endpoint name to its configuration.
	ObjectStorageEndpoints map[string]ObjectStorageEndpoint `json:"object_storage_endpoints,omitempty"`
	RcloneBackendConfig    RcloneBackendConfig              `json:"rclone_backend_config"`
}

// ObjectStorageEndpoint is one entry of Scylla's object_storage_endpoints.
type ObjectStorageEndpoint struct {
	Name       string `json:"name"`
	Port       int    `json:"port"`
	UseHTTPS   bool   `json:"use_https"`
	AwsRegion  string `json:"aws_region,omitempty"`
	IamRoleArn string `json:"iam_role_arn,omitempty"`
	Type       string `json:"type,omitempty"`
}

// RcloneBackendConfig is the subset of the agent's storage configuration
// reported in NodeInfo.
type RcloneBackendConfig struct {
	S3 struct {
		Endpoint string `json:"endpoint"`
		Region   string `json:"region"`
	} `json:"s3"`
	GCS struct {
		Endpoint string `json:"endpoint"`
	} `json:"gcs"`
	Azure struct{} `json:"azure"`
}

// InstanceMetadata is the answer of GET /agent/cloud/metadata.
type InstanceMetadata struct {
	InstanceType  string `json:"instance_type"`
	CloudProvider string `json:"cloud_provider"`
}

// Cpus is the answer of GET /agent/pin_cpu.
type Cpus struct {
	CPU []int `json:"cpu"`
}

// Scylla REST API shapes used through the agent proxy.

// KeyValue is a {"key","value"} pair as the Scylla REST API returns maps,
// e.g. /storage_service/host_id (IP → host ID).
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// EndpointDetail is one replica of a token range in describe_ring.
type EndpointDetail struct {
	Host       string `json:"host"`
	Datacenter string `json:"datacenter"`
	Rack       string `json:"rack"`
}

// TokenRange is one entry of /storage_service/describe_ring/{keyspace}.
type TokenRange struct {
	StartToken      string           `json:"start_token"`
	EndToken        string           `json:"end_token"`
	Endpoints       []string         `json:"endpoints"`
	RPCEndpoints    []string         `json:"rpc_endpoints"`
	EndpointDetails []EndpointDetail `json:"endpoint_details"`
}

// SnapshotDetail is one table of a snapshot in /storage_service/snapshots.
type SnapshotDetail struct {
	Keyspace string `json:"ks"`
	Table    string `json:"cf"`
	Total    int64  `json:"total"`
	Live     int64  `json:"live"`
}

// Snapshot is one entry of GET /storage_service/snapshots: the tag and its
// tables.
type Snapshot struct {
	Key   string           `json:"key"`
	Value []SnapshotDetail `json:"value"`
}
