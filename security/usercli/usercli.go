// Package usercli implements `junction user`: managing the users file
// (bcrypt-hashed passwords and roles) that the broker's security section
// points to.
package usercli

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/junctionmq/junction/security"
)

// NewCommand returns the `user` command tree. configPathFlag returns the
// broker configuration file named by the root command's --config flag; the
// users file is taken from its security.users-file unless --users-file is
// given. When configPathFlag is nil the command defines its own --config.
func NewCommand(configPathFlag func() string) *cobra.Command {
	o := &options{configPath: configPathFlag}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the users file (users, bcrypt-hashed passwords, roles)",
		Long: `Manage the users file named by security.users-file in the broker configuration
(or by --users-file). Passwords are stored as bcrypt hashes, never in clear.
A running broker picks the changes up on its next users-file reload.`,
	}
	cmd.PersistentFlags().StringVar(&o.usersFile, "users-file", "", "users file to edit (default: security.users-file of the broker configuration)")
	if configPathFlag == nil {
		var cfg string
		cmd.PersistentFlags().StringVar(&cfg, "config", "", "broker configuration file")
		o.configPath = func() string { return cfg }
	}
	cmd.AddCommand(o.addCmd(), o.passwdCmd(), o.rmCmd(), o.listCmd(), o.sasKeyCmd())
	return cmd
}

type options struct {
	configPath func() string
	usersFile  string
}

// path finds the users file: --users-file, else the configuration's
// security.users-file relative to the configuration file's folder.
func (o *options) path() (string, error) {
	if o.usersFile != "" {
		return o.usersFile, nil
	}
	cfgPath := ""
	if o.configPath != nil {
		cfgPath = o.configPath()
	}
	if cfgPath == "" {
		return "", errors.New("no users file: pass --users-file FILE or --config FILE")
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", fmt.Errorf("read configuration: %w", err)
	}
	var doc struct {
		Security security.Config `yaml:"security"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("configuration %s: %w", cfgPath, err)
	}
	p := doc.Security.UsersFilePath(filepath.Dir(cfgPath))
	if p == "" {
		return "", fmt.Errorf("configuration %s sets no security.users-file; add one or pass --users-file", cfgPath)
	}
	return p, nil
}

// loadUser loads the existing users file and finds name in it.
func (o *options) loadUser(name string) (*security.UsersFile, *security.User, string, error) {
	uf, path, err := o.load(true)
	if err != nil {
		return nil, nil, "", err
	}
	u := uf.Find(name)
	if u == nil {
		return nil, nil, "", fmt.Errorf("no user %q in %s", name, path)
	}
	return uf, u, path, nil
}

func (o *options) load(mustExist bool) (*security.UsersFile, string, error) {
	p, err := o.path()
	if err != nil {
		return nil, "", err
	}
	uf, err := security.LoadUsers(p)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		return &security.UsersFile{}, p, nil
	}
	return uf, p, err
}

func (o *options) addCmd() *cobra.Command {
	var (
		roles    []string
		password string
		maxConn  int
		cost     int
	)
	c := &cobra.Command{
		Use:          "add NAME --role ROLE [--role ROLE2] [--password P]",
		Short:        "Add a user (the file is created if missing)",
		Long:         "Add a user. Without --password the password is prompted for (or read as one line from standard input when it is not a terminal); prefer that, --password is visible to other local users and lands in shell history.",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			uf, path, err := o.load(false)
			if err != nil {
				return err
			}
			if uf.Find(name) != nil {
				return fmt.Errorf("user %q already exists in %s (use `junction user passwd` to change its password)", name, path)
			}
			pw, err := passwordFrom(cmd, password, "password")
			if err != nil {
				return err
			}
			hash, err := security.HashPasswordCost(pw, cost)
			if err != nil {
				return err
			}
			uf.Users = append(uf.Users, security.User{Name: name, Password: hash, Roles: roles, MaxConnections: maxConn})
			if err := uf.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added user %s (roles: %s) to %s\n", name, strings.Join(roles, ", "), path)
			return nil
		},
	}
	c.Flags().StringSliceVar(&roles, "role", nil, "role of the user (repeat or comma-separate for several)")
	c.Flags().StringVar(&password, "password", "", "password (default: prompt)")
	c.Flags().IntVar(&maxConn, "max-connections", 0, "connection limit for this user (0 = the broker's max-connections-per-user, -1 = unlimited)")
	addCostFlag(c, &cost)
	_ = c.MarkFlagRequired("role")
	return c
}

func (o *options) passwdCmd() *cobra.Command {
	var (
		password string
		cost     int
	)
	c := &cobra.Command{
		Use:          "passwd NAME [--password P]",
		Short:        "Change a user's password",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			uf, u, path, err := o.loadUser(args[0])
			if err != nil {
				return err
			}
			pw, err := passwordFrom(cmd, password, "new password")
			if err != nil {
				return err
			}
			if u.Password, err = security.HashPasswordCost(pw, cost); err != nil {
				return err
			}
			if err := uf.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed in %s\n", args[0], path)
			return nil
		},
	}
	c.Flags().StringVar(&password, "password", "", "new password (default: prompt)")
	addCostFlag(c, &cost)
	return c
}

func (o *options) rmCmd() *cobra.Command {
	return &cobra.Command{
		Use:          "rm NAME",
		Aliases:      []string{"remove", "delete"},
		Short:        "Remove a user",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			uf, path, err := o.load(true)
			if err != nil {
				return err
			}
			if !uf.Remove(args[0]) {
				return fmt.Errorf("no user %q in %s", args[0], path)
			}
			if err := uf.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed user %s from %s\n", args[0], path)
			return nil
		},
	}
}

func (o *options) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:          "list",
		Aliases:      []string{"ls"},
		Short:        "List users and their roles (never the password hashes)",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			uf, _, err := o.load(true)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLES\tMAX-CONNECTIONS")
			for _, u := range uf.Users {
				limit := "default"
				switch {
				case u.MaxConnections < 0:
					limit = "unlimited"
				case u.MaxConnections > 0:
					limit = strconv.Itoa(u.MaxConnections)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, strings.Join(u.Roles, ","), limit)
			}
			return tw.Flush()
		},
	}
}

func addCostFlag(c *cobra.Command, cost *int) {
	c.Flags().IntVar(cost, "bcrypt-cost", bcrypt.DefaultCost, "bcrypt work factor")
	_ = c.Flags().MarkHidden("bcrypt-cost")
}

// passwordFrom returns the --password value, else prompts on a terminal
// (twice, without echo), else reads one line from standard input.
func passwordFrom(cmd *cobra.Command, flagValue, what string) (string, error) {
	if cmd.Flags().Changed("password") {
		if flagValue == "" {
			return "", errors.New("empty password")
		}
		return flagValue, nil
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		first, err := prompt(cmd, f, what+": ")
		if err != nil {
			return "", err
		}
		again, err := prompt(cmd, f, "repeat "+what+": ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("passwords do not match")
		}
		if first == "" {
			return "", errors.New("empty password")
		}
		return first, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password (pass --password or pipe it on standard input)")
	}
	return line, nil
}

func prompt(cmd *cobra.Command, f *os.File, label string) (string, error) {
	fmt.Fprint(cmd.ErrOrStderr(), label)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// sasKeyCmd sets or removes a user's SAS key: the shared access key Azure
// Service Bus clients sign their tokens with (docs/AMQP.md).
func (o *options) sasKeyCmd() *cobra.Command {
	var remove bool
	c := &cobra.Command{
		Use:   "sas-key NAME [--remove]",
		Short: "Generate a user's shared access key for Azure Service Bus clients (or remove it)",
		Long: `Generate a random shared access key for the user, store it in the users file and
print it once: it is the SharedAccessKey of the user's Service Bus connection string
(SharedAccessKeyName is the user name). The key is stored as given (checking a SAS
token's signature needs it): keep the users file private (mode 0600).`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			uf, u, path, err := o.loadUser(args[0])
			if err != nil {
				return err
			}
			if remove {
				u.SASKey = ""
			} else {
				// 256 bits, in the form Azure's keys have.
				key := make([]byte, 32)
				_, _ = rand.Read(key) // crypto/rand.Read never fails
				u.SASKey = base64.StdEncoding.EncodeToString(key)
			}
			if err := uf.Save(path); err != nil {
				return err
			}
			if remove {
				fmt.Fprintf(cmd.OutOrStdout(), "removed the SAS key of %s in %s\n", u.Name, path)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "SharedAccessKeyName=%s;SharedAccessKey=%s\n", u.Name, u.SASKey)
			return nil
		},
	}
	c.Flags().BoolVar(&remove, "remove", false, "remove the key: the user can no longer log in with SAS tokens")
	return c
}
