// Package auth decides who a sidecar talks to: TLS configurations whose
// certificates, keys and CA bundles are reloaded when their files change (so
// rotation needs no restart; failed reloads and key or token files others
// may read are logged), a peer allow-list of typed names (a DNS name matches
// a certificate's DNS SANs only, a URI such as a SPIFFE ID its URI SANs
// only), and a shared bearer token compared in constant time.
//
// Guard is the server's side, an http.Handler middleware that answers a
// refused call with a gRPC/Connect error (UNAUTHENTICATED or
// PERMISSION_DENIED) and an audit log line; Bearer is the client's side. The
// snapshot ID proves a snapshot's integrity; authenticity comes from here.
package auth
