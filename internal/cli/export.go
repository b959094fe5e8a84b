package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kapstan/kapstan/internal/pki"
	api "github.com/kapstan/kapstan/pkg/apis/kapstan/v1alpha1"
)

func newCmdExport(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a cluster's credentials",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCmdExportKubeconfig(g))
	return cmd
}

// ExportKubeconfigOptions are the options of `kapstan export kubeconfig`.
type ExportKubeconfigOptions struct {
	*globals
	Name string
	// Admin is the lifetime of the admin certificate; zero when --admin
	// was not given.
	Admin time.Duration
	// Kubeconfig is the file to merge into; empty means $KUBECONFIG's
	// first entry, else ~/.kube/config.
	Kubeconfig string
	// Internal uses api.internal.NAME, reachable from inside the VPC.
	Internal bool
}

func newCmdExportKubeconfig(g *globals) *cobra.Command {
	o := &ExportKubeconfigOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "kubeconfig NAME --admin DURATION",
		Short: "Write a kubeconfig with a short-lived admin certificate",
		Long: `Sign a client certificate for the cluster's admin (CN=kapstan-admin,
O=system:masters) with the cluster's CA, valid for DURATION, and merge it
into a kubeconfig with the cluster's CA and API
address: https://api.NAME for a cluster with a DNS zone, the API load
balancer's name for a .k8s.local cluster, https://api.internal.NAME with
--internal. The cluster, user and context are all named NAME and the context
becomes current. The certificate is not kept in the state store; export again
when it expires.`,
		Example: `  kapstan export kubeconfig demo.example.com --admin 18h
  kapstan export kubeconfig demo.k8s.local --admin 1h --kubeconfig ./demo.kubeconfig`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeClusterArg(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Admin, "admin", 0, "sign an admin certificate valid this long, e.g. 18h (required)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file to merge into (default $KUBECONFIG's first file, else ~/.kube/config)")
	f.BoolVar(&o.Internal, "internal", false, "use the API's internal name, api.internal.NAME, reachable from inside the VPC")
	return cmd
}

// Complete picks the kubeconfig file.
func (o *ExportKubeconfigOptions) Complete() error {
	if o.Kubeconfig != "" {
		return nil
	}
	getenv := func(string) string { return "" }
	if o.env.Getenv != nil {
		getenv = o.env.Getenv
	}
	if list := filepath.SplitList(getenv(clientcmd.RecommendedConfigPathEnvVar)); len(list) > 0 && list[0] != "" {
		o.Kubeconfig = list[0]
		return nil
	}
	home := getenv("HOME")
	if home == "" {
		return errors.New("no --kubeconfig, $KUBECONFIG or $HOME: say where to write the kubeconfig")
	}
	o.Kubeconfig = filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
	return nil
}

// Validate checks the flags.
func (o *ExportKubeconfigOptions) Validate() error {
	switch {
	case o.Admin == 0:
		return errors.New("--admin DURATION is required (e.g. --admin 18h): kapstan's only credentials are admin certificates for now")
	case o.Admin < time.Minute:
		return fmt.Errorf("--admin %s: must be at least 1m", o.Admin)
	case o.Admin > 30*24*time.Hour:
		return fmt.Errorf("--admin %s: at most 720h; admin certificates cannot be revoked, so keep them short", o.Admin)
	}
	return nil
}

// Run signs the certificate and merges the kubeconfig.
func (o *ExportKubeconfigOptions) Run(ctx context.Context) error {
	reg, snap, err := o.Cluster(ctx, o.Name)
	if err != nil {
		return err
	}
	ks := pki.NewKeystore(reg.Store(), o.Name)
	ca, err := ks.Certificate(ctx, pki.KubernetesCA)
	if errors.Is(err, pki.ErrNotFound) {
		return fmt.Errorf("cluster %q has no CA yet: run kapstan update cluster %s --yes first", o.Name, o.Name)
	}
	if err != nil {
		return err
	}
	server, err := o.server(ctx, ks, snap.Manifests.Cluster)
	if err != nil {
		return err
	}
	kp, err := ks.Issue(ctx, pki.AdminSpec(o.Admin))
	if err != nil {
		return fmt.Errorf("signing the admin certificate of %q: %w", o.Name, err)
	}
	key, err := kp.PrivateKeyPEM()
	if err != nil {
		return err
	}
	cfg, err := loadKubeconfig(o.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.Clusters[o.Name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: pki.EncodeCertificate(ca)}
	cfg.AuthInfos[o.Name] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.CertificatePEM(), ClientKeyData: []byte(string(key))}
	cfg.Contexts[o.Name] = &clientcmdapi.Context{Cluster: o.Name, AuthInfo: o.Name}
	cfg.CurrentContext = o.Name
	if err := os.MkdirAll(filepath.Dir(o.Kubeconfig), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", o.Kubeconfig, err)
	}
	// WriteToFile writes with mode 0600: the file holds a private key.
	if err := clientcmd.WriteToFile(*cfg, o.Kubeconfig); err != nil {
		return fmt.Errorf("writing %s: %w", o.Kubeconfig, err)
	}
	fmt.Fprintf(o.Out, "kubeconfig %s: context %q set, server %s, admin certificate valid until %s\n",
		o.Kubeconfig, o.Name, server, kp.Cert.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// server is the API URL clients use.
func (o *ExportKubeconfigOptions) server(ctx context.Context, ks *pki.Keystore, c *api.Cluster) (string, error) {
	switch {
	case o.Internal:
		return "https://" + pki.APIInternalName(o.Name), nil
	case !api.IsGossip(o.Name):
		name := c.Spec.API.DNSName
		if name == "" {
			name = "api." + o.Name
		}
		return "https://" + name, nil
	}
	cert, err := ks.Certificate(ctx, pki.APIServer)
	if err != nil && !errors.Is(err, pki.ErrNotFound) {
		return "", err
	}
	lb := ""
	if cert != nil {
		lb = pki.LoadBalancerName(c, cert)
	}
	if lb == "" {
		return "", fmt.Errorf("cluster %q has no DNS zone and its API load balancer is not known yet: run kapstan update cluster %s --yes, "+
			"or use --internal from inside the VPC", o.Name, o.Name)
	}
	return "https://" + lb, nil
}

// loadKubeconfig reads the kubeconfig at path, or returns an empty one if
// there is none.
func loadKubeconfig(path string) (*clientcmdapi.Config, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return clientcmdapi.NewConfig(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}
