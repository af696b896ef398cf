// Where the ropguard API is: its base URL on your app's site, e.g. "https://auth.example.com".
// Empty: the page's own origin. The offline stack's page server replaces this file with its API's URL.
window.ROPGUARD_CONFIG = { apiBaseUrl: "" };
