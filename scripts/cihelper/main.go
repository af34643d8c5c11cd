// Command cihelper prepares the servers that scripts/services.sh starts for
// the test suite: it creates buckets and containers, and waits until a CQL
// server accepts a login.
//
// Usage:
//
//	cihelper s3-bucket    -endpoint URL -name NAME   (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION)
//	cihelper gcs-bucket   -endpoint URL -name NAME
//	cihelper azure-container -name NAME               (AZURE_STORAGE_CONNECTION_STRING)
//	cihelper cql-wait     -hosts H:P -user U -password P -timeout D
//
// Every subcommand treats "already exists" as success and exits non-zero
// with a message on stderr on any other failure.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/gocql/gocql"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cihelper s3-bucket|gcs-bucket|azure-container|cql-wait [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	endpoint := fs.String("endpoint", "", "server URL")
	name := fs.String("name", "", "bucket or container name")
	hosts := fs.String("hosts", "127.0.0.1:9042", "comma-separated CQL hosts")
	user := fs.String("user", "", "CQL user")
	password := fs.String("password", "", "CQL password")
	timeout := fs.Duration("timeout", 2*time.Minute, "overall deadline")
	if err := fs.Parse(os.Args[2:]); err != nil {
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "s3-bucket":
		err = s3Bucket(ctx, *endpoint, *name)
	case "gcs-bucket":
		err = gcsBucket(ctx, *endpoint, *name)
	case "azure-container":
		err = azureContainer(ctx, *name)
	case "cql-wait":
		err = cqlWait(ctx, strings.Split(*hosts, ","), *user, *password)
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cihelper %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func s3Bucket(ctx context.Context, endpoint, name string) error {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	if err != nil {
		return err
	}
	cli := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	_, err = cli.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if errors.As(err, &owned) || errors.As(err, &exists) {
		return nil
	}
	return err
}

func gcsBucket(ctx context.Context, endpoint, name string) error {
	body := fmt.Sprintf(`{"name":%q}`, name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimSuffix(endpoint, "/")+"/storage/v1/b?project=test", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
}

func azureContainer(ctx context.Context, name string) error {
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if cs == "" {
		return errors.New("AZURE_STORAGE_CONNECTION_STRING is not set")
	}
	cli, err := container.NewClientFromConnectionString(cs, name, nil)
	if err != nil {
		return err
	}
	_, err = cli.Create(ctx, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.ErrorCode == "ContainerAlreadyExists" {
		return nil
	}
	return err
}

// cqlWait retries a login plus a trivial query until it succeeds or ctx ends.
// Cassandra 2.1 with PasswordAuthenticator creates its default superuser a
// few seconds after the port opens, so an open port is not enough.
func cqlWait(ctx context.Context, hosts []string, user, password string) error {
	var last error
	for {
		last = cqlPing(hosts, user, password)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no successful login before the deadline: %w", last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func cqlPing(hosts []string, user, password string) error {
	c := gocql.NewCluster(hosts...)
	c.ProtoVersion = 3
	c.DisableInitialHostLookup = true
	c.Timeout = 5 * time.Second
	c.ConnectTimeout = 5 * time.Second
	c.Logger = quiet{}
	if user != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	s, err := c.CreateSession()
	if err != nil {
		return err
	}
	defer s.Close()
	var v string
	return s.Query("SELECT release_version FROM system.local").Scan(&v)
}

type quiet struct{}

func (quiet) Print(...any)          {}
func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}
