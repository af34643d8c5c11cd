package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scyllaops/scyllaops/agent"
)

// Config is the YAML configuration, with the keys of
// scylla-manager-agent.yaml where they exist.
type Config struct {
	// AuthToken must match the manager's token for this cluster.
	AuthToken string `yaml:"auth_token"`
	// HTTPS is the listen address. Default: ":<https_port>".
	HTTPS string `yaml:"https"`
	// HTTPSPort is used when HTTPS is empty. Default: 10001.
	HTTPSPort int `yaml:"https_port"`
	// TLSCertFile and TLSKeyFile; both empty = a self-signed certificate.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// Prometheus is the plain-HTTP metrics listen address; "" disables it.
	// Default: ":5090".
	Prometheus *string `yaml:"prometheus"`
	// DataDirectory is the Scylla data directory. Default:
	// /var/lib/scylla/data.
	DataDirectory string `yaml:"data_directory"`
	Scylla        struct {
		APIAddress string `yaml:"api_address"`
		APIPort    int    `yaml:"api_port"`
		// PrometheusAddress/Port locate Scylla's metrics (GET /metrics).
		PrometheusAddress string `yaml:"prometheus_address"`
		PrometheusPort    int    `yaml:"prometheus_port"`
	} `yaml:"scylla"`
	Rclone struct {
		Transfers int `yaml:"transfers"`
	} `yaml:"rclone"`
	S3 struct {
		AccessKeyID     string `yaml:"access_key_id"`
		SecretAccessKey string `yaml:"secret_access_key"`
		Region          string `yaml:"region"`
		Endpoint        string `yaml:"endpoint"`
		ForcePathStyle  bool   `yaml:"force_path_style"`
	} `yaml:"s3"`
	GCS struct {
		ServiceAccountFile string `yaml:"service_account_file"`
		Endpoint           string `yaml:"endpoint"`
	} `yaml:"gcs"`
	Azure struct {
		Account          string `yaml:"account"`
		Key              string `yaml:"key"`
		Endpoint         string `yaml:"endpoint"`
		ConnectionString string `yaml:"connection_string"`
	} `yaml:"azure"`
	LocalStorage struct {
		Path string `yaml:"path"`
	} `yaml:"localstorage"`
	Logger struct {
		Level string `yaml:"level"`
	} `yaml:"logger"`
	// ShutdownTimeout bounds the graceful shutdown. Default: 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// LoadConfig reads the YAML file at path (missing file = defaults) and
// validates it. Unknown keys are errors.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return c, fmt.Errorf("config: %w", err)
	default:
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	c = c.withDefaults()
	return c, c.Validate()
}

func (c Config) withDefaults() Config {
	if c.HTTPSPort == 0 {
		c.HTTPSPort = 10001
	}
	if c.HTTPS == "" {
		c.HTTPS = ":" + strconv.Itoa(c.HTTPSPort)
	}
	if c.Prometheus == nil {
		p := ":5090"
		c.Prometheus = &p
	}
	if c.Scylla.APIAddress == "" {
		c.Scylla.APIAddress = "127.0.0.1"
	}
	if c.Scylla.APIPort == 0 {
		c.Scylla.APIPort = 10000
	}
	if c.Scylla.PrometheusAddress == "" {
		c.Scylla.PrometheusAddress = c.Scylla.APIAddress
	}
	if c.Scylla.PrometheusPort == 0 {
		c.Scylla.PrometheusPort = 9180
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	return c
}

// Validate reports the first invalid key.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPS); err != nil {
		return fmt.Errorf("config: invalid https %q: want host:port, e.g. 0.0.0.0:10001", c.HTTPS)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("config: tls_cert_file and tls_key_file must be set together")
	}
	switch c.Logger.Level {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("config: invalid logger.level %q: want debug, info, warn or error", c.Logger.Level)
	}
	return c.agentOptions().Validate()
}

func (c Config) agentOptions() agent.Options {
	hp := func(h string, p int) string { return "http://" + net.JoinHostPort(h, strconv.Itoa(p)) }
	return agent.Options{
		AuthToken:        c.AuthToken,
		ScyllaAPI:        hp(c.Scylla.APIAddress, c.Scylla.APIPort),
		ScyllaPrometheus: hp(c.Scylla.PrometheusAddress, c.Scylla.PrometheusPort),
		DataDir:          c.DataDirectory,
		Transfers:        c.Rclone.Transfers,
		Storage: agent.StorageOptions{
			S3: agent.S3Options{Endpoint: c.S3.Endpoint, Region: c.S3.Region, AccessKeyID: c.S3.AccessKeyID,
				SecretAccessKey: c.S3.SecretAccessKey, ForcePathStyle: c.S3.ForcePathStyle},
			GCS:              agent.GCSOptions{Endpoint: c.GCS.Endpoint, ServiceAccountFile: c.GCS.ServiceAccountFile},
			Azure:            agent.AzureOptions{Account: c.Azure.Account, Key: c.Azure.Key, Endpoint: c.Azure.Endpoint, ConnectionString: c.Azure.ConnectionString},
			LocalStoragePath: c.LocalStorage.Path,
		},
	}
}
