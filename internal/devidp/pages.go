package devidp

import (
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	loginPath  = "/login"
	devicePath = "/device"
)

var pages = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} – Airlock dev IdP</title>
<style>body{font-family:sans-serif;max-width:26rem;margin:3rem auto}label,input,button{display:block;margin:.3rem 0}
.error{color:#b00020}.note{color:#666;font-size:.85rem}</style></head><body>
<h1>{{.Title}}</h1>
<p class="note">Airlock development identity provider. Not for production.</p>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}{{end}}

{{define "login"}}{{template "head" .}}
{{if .Client}}<p>Sign in to continue to <b>{{.Client}}</b>.</p>{{end}}
<form method="post" action="/login">
<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></body></html>{{end}}

{{define "device"}}{{template "head" .}}
<p>Enter the code shown on your device and sign in to approve it.</p>
<form method="post" action="/device">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" required>
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" value="{{.Username}}" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form></body></html>{{end}}

{{define "message"}}{{template "head" .}}<p id="message">{{.Message}}</p></body></html>{{end}}
`))

type page struct {
	Title, Error, Message           string
	Client, AuthRequestID, Username string
	UserCode                        string
}

func render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		slog.Error("devidp: render page", "page", name, "err", err)
	}
}

// serveLogin is the login UI the authorization endpoint redirects to.
// A successful sign-in redirects to zitadel's callback, which answers the
// client's redirect_uri with the code.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		req, err := p.store.pendingAuthRequest(id)
		if err != nil {
			render(w, http.StatusBadRequest, "message", page{Title: "Sign-in failed",
				Message: "Unknown, expired or already used sign-in request. Start again from the application."})
			return
		}
		render(w, http.StatusOK, "login", page{Title: "Sign in", Client: req.clientID, AuthRequestID: id, Username: req.loginHint})
	case http.MethodPost:
		id := r.PostFormValue("authRequestID")
		username := r.PostFormValue("username")
		req, err := p.store.pendingAuthRequest(id)
		if err != nil {
			render(w, http.StatusBadRequest, "message", page{Title: "Sign-in failed",
				Message: "Unknown, expired or already used sign-in request. Start again from the application."})
			return
		}
		u, ok := p.store.checkPassword(username, r.PostFormValue("password"))
		if !ok {
			render(w, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: "Wrong username or password.",
				Client: req.clientID, AuthRequestID: id, Username: username})
			return
		}
		if err := p.store.completeAuthRequest(id, u.Subject); err != nil {
			render(w, http.StatusBadRequest, "message", page{Title: "Sign-in failed",
				Message: "Unknown, expired or already used sign-in request. Start again from the application."})
			return
		}
		ctx := op.ContextWithIssuer(r.Context(), p.issuer)
		http.Redirect(w, r, op.AuthCallbackURL(p.op)(ctx, id), http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// serveDevice is the RFC 8628 verification page.
func (p *Provider) serveDevice(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		render(w, http.StatusOK, "device", page{Title: "Sign in a device", UserCode: r.URL.Query().Get("user_code")})
	case http.MethodPost:
		form := page{Title: "Sign in a device", UserCode: r.PostFormValue("user_code"), Username: r.PostFormValue("username")}
		approve := r.PostFormValue("action") != "deny"
		if _, ok := p.store.pendingDevice(form.UserCode); !ok {
			form.Error = "Unknown or expired code. Check the code shown on your device."
			render(w, http.StatusBadRequest, "device", form)
			return
		}
		u, ok := p.store.checkPassword(form.Username, r.PostFormValue("password"))
		if !ok {
			form.Error = "Wrong username or password."
			render(w, http.StatusUnauthorized, "device", form)
			return
		}
		err := p.store.decideDevice(form.UserCode, u.Subject, approve, "pwd")
		if errors.Is(err, ErrUnknownUserCode) {
			form.Error = "Unknown or expired code. Check the code shown on your device."
			render(w, http.StatusBadRequest, "device", form)
			return
		}
		msg := "Device approved. You can return to your device."
		if !approve {
			msg = "Device denied."
		}
		render(w, http.StatusOK, "message", page{Title: "Sign in a device", Message: msg})
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// serveDiscovery is zitadel's discovery document, corrected to say what
// this provider does: only the code flow (zitadel always lists implicit
// and id_token response types), the grants it has, and the RFC 9207
// "iss" parameter that addIssToAuthorizationResponses adds.
func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.issuer)
	raw, err := json.Marshal(op.CreateDiscoveryConfig(ctx, p.op, p.store))
	var doc map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &doc)
	}
	if err != nil {
		http.Error(w, "discovery: "+err.Error(), http.StatusInternalServerError)
		return
	}
	doc["response_types_supported"] = []string{"code"}
	doc["response_modes_supported"] = []string{"query", "form_post"}
	doc["grant_types_supported"] = []string{string(GrantAuthorizationCode), string(GrantDeviceCode)}
	doc["authorization_response_iss_parameter_supported"] = true
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// addIssToAuthorizationResponses adds the RFC 9207 "iss" parameter to the
// redirects that carry an authorization response (code or error) back to a
// client; zitadel v3.52.0 does not. The form_post response mode is left
// without it.
func addIssToAuthorizationResponses(issuer string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/authorize") {
			w = &issWriter{ResponseWriter: w, issuer: issuer}
		}
		next.ServeHTTP(w, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(status int) {
	if status == http.StatusFound || status == http.StatusSeeOther {
		if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, w.issuer+"/") {
			if u, err := url.Parse(loc); err == nil {
				q := u.Query()
				if (q.Has("code") || q.Has("error")) && !q.Has("iss") {
					if u.RawQuery != "" {
						u.RawQuery += "&"
					}
					u.RawQuery += "iss=" + url.QueryEscape(w.issuer)
					w.Header().Set("Location", u.String())
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}
