package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/airlockci/airlock/internal/cliauth"
)

// loginCmd signs the CLI in with the device authorization flow: it prints
// where to confirm the code, waits, and stores the session token.
func loginCmd(args []string) int {
	fs := newFlagSet("login", loginNotes())
	serverURL := serverFlag(fs)
	provider := fs.String("provider", "", "identity provider ID (default: the only one the control plane offers)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagsFailed(err)
	}
	server, err := serverURL()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock login: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := credentialStore()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock login: %v\n", err)
		return 1
	}
	s, err := signIn(ctx, server, *provider, func(d *cliauth.Device) {
		fmt.Printf("To sign in, open %s\nand confirm the code %s", d.VerificationURI, d.UserCode)
		if d.VerificationURIComplete != "" {
			fmt.Printf(" (or open %s)", d.VerificationURIComplete)
		}
		fmt.Println()
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock login: %v\n", err)
		return 1
	}
	// Only now that the new session exists: an abandoned sign-in keeps the
	// old one.
	endStored(ctx, store, server, "airlock login")
	if err := store.Save(server, s.Token); err != nil {
		fmt.Fprintf(os.Stderr, "airlock login: signed in, but storing the token failed: %v\n", err)
		return 1
	}
	fmt.Printf("Signed in to %s as %s (%s).\n", server, s.User.Email, s.User.Role)
	return 0
}

// loginNotes ends airlock login's help: where the token is kept.
func loginNotes() string {
	here := ""
	if p, err := cliauth.DefaultPath(); err == nil && os.Getenv("AIRLOCK_CREDENTIALS") == "" {
		here = " (here " + p + ")"
	}
	return "The session token is stored in $AIRLOCK_CREDENTIALS, else in\n" +
		"os.UserConfigDir()/airlock/credentials.json" + here + ",\n" +
		"readable by you only, one token per server. $AIRLOCK_TOKEN, when set, is\n" +
		"used instead. Signing in again ends the session it replaces.\n" +
		"make dev signs the CLI in for you.\n"
}

// signIn runs the device flow against server; show tells the person what
// to do (airlock dev approves it itself at its development provider).
func signIn(ctx context.Context, server, provider string, show func(*cliauth.Device)) (*cliauth.Session, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	if provider == "" {
		ps, err := cliauth.Providers(ctx, c, server)
		if err != nil {
			return nil, err
		}
		switch len(ps) {
		case 0:
			return nil, fmt.Errorf("%s offers no sign-in providers (see docs/SSO.md)", server)
		case 1:
			provider = ps[0].ID
		default:
			var ids []string
			for _, p := range ps {
				ids = append(ids, p.ID)
			}
			return nil, fmt.Errorf("%s offers several providers; choose one with --provider (%s)", server, strings.Join(ids, ", "))
		}
	}
	d, err := cliauth.Start(ctx, c, server, provider)
	if err != nil {
		return nil, err
	}
	show(d)
	s, err := d.Wait(ctx)
	if errors.Is(err, cliauth.ErrDenied) {
		return nil, fmt.Errorf("the sign-in was denied")
	}
	return s, err
}

// logoutCmd ends the CLI's session on the server and forgets the token.
func logoutCmd(args []string) int {
	fs := newFlagSet("logout", "")
	serverURL := serverFlag(fs)
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagsFailed(err)
	}
	server, err := serverURL()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock logout: %v\n", err)
		return 2
	}
	store, err := credentialStore()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock logout: %v\n", err)
		return 1
	}
	token, err := store.Token(server)
	if err != nil || token == "" {
		fmt.Fprintf(os.Stderr, "airlock logout: not signed in to %s\n", server)
		return 1
	}
	if err := cliauth.Logout(context.Background(), &http.Client{Timeout: 30 * time.Second}, server, token); err != nil {
		fmt.Fprintf(os.Stderr, "airlock logout: %v\n", err)
		return 1
	}
	if err := store.Save(server, ""); err != nil {
		fmt.Fprintf(os.Stderr, "airlock logout: %v\n", err)
		return 1
	}
	fmt.Printf("Signed out of %s.\n", server)
	return 0
}

// endStored ends the session whose token is stored for server, because a
// new one is about to replace it in the file (cliauth.Store.EndStored), and
// says whose it was. airlock login and airlock dev both replace tokens.
func endStored(ctx context.Context, store cliauth.Store, server, cmd string) {
	who, err := store.EndStored(ctx, &http.Client{Timeout: 10 * time.Second}, server)
	if who != "" {
		fmt.Printf("Replacing the session of %s.\n", who)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: note: %v; it stays valid until it expires or is revoked on the Sessions page\n", cmd, err)
	}
}

func credentialStore() (cliauth.Store, error) {
	p, err := cliauth.DefaultPath()
	return cliauth.Store{Path: p}, err
}
