// ropguard's sample login page. No framework, no build step: copy it and change what you like.
//
// What it keeps where (the reason this page exists):
// - the access token: in this script's memory only (a variable in this closure), never in
//   localStorage, sessionStorage or a cookie script can read; a reload forgets it, Refresh gets
//   a new one;
// - the refresh token: never here at all. The API (TokenDelivery=cookie) keeps it in an HttpOnly
//   cookie this script cannot read; `credentials: "include"` lets the browser send it back;
// - the user's email: read from the ID token's claims for display only (not verified here: the
//   token came straight from our own API over TLS; an app that trusts a claim verifies it server-side).
//
// Every request carries `X-CSRF: 1`: a header a cross-site form cannot send, so the API refuses
// requests that did not come from script on an allowed origin.
"use strict";

(() => {
  const config = window.ROPGUARD_CONFIG || {};
  const api = String(config.apiBaseUrl || "").replace(/\/+$/, "");
  const DEFAULT_POLL_SECONDS = 5; // RFC 8628's default interval; slow_down adds 5 (section 3.5)

  const $ = (id) => document.getElementById(id);
  const ui = {
    message: $("message"),
    loginForm: $("login-form"),
    email: $("email"),
    password: $("password"),
    mfaForm: $("mfa-form"),
    mfaPrompt: $("mfa-prompt"),
    codeField: $("code-field"),
    code: $("code"),
    recoveryField: $("recovery-field"),
    recoveryCode: $("recovery-code"),
    newRecovery: $("new-recovery"),
    newRecoveryCode: $("new-recovery-code"),
    signedIn: $("signed-in"),
    userEmail: $("user-email"),
    expiresAt: $("expires-at"),
    refresh: $("refresh"),
    logout: $("logout"),
    buttons: document.querySelectorAll("button"),
  };

  // Memory only. `mfa` is the step in progress: its mfa_token and what the Code field means.
  let accessToken = null;
  let mfa = null;
  let pollTimer = null;

  // --- what the user reads -------------------------------------------------------------------

  // One human sentence per answer the user can act on; the API's error codes are Auth0's.
  const SENTENCES = {
    login: {
      invalid_grant: "That email and password don't match. Check them and try again.",
      too_many_attempts:
        "Too many failed attempts: this account is locked for now. Check your email for a link to unlock it, or try again later.",
      password_leaked:
        "This password appeared in a data breach elsewhere, so it can't be used. Check your email: we sent you a link to set a new one.",
      unauthorized: "This account is blocked. Contact support to get it unblocked.",
    },
    mfa: {
      invalid_grant: "That code is not right. Check it and try again.",
      expired_token: "This sign-in took too long. Log in again.",
      too_many_attempts: "Too many wrong codes. Wait a while, then log in again.",
      unsupported_challenge_type: "This account's second factor is not supported here.",
      association_required: "This account has no second factor set up yet.",
    },
    push: {
      invalid_grant: "The sign-in was rejected on your phone. Log in again if that was you.",
      expired_token: "The push notification expired. Log in again.",
    },
    session: {
      invalid_grant: "Your session has ended. Log in again.",
      access_denied: "This page is not allowed to use the session. Open the app from its own address.",
    },
    any: {
      access_denied: "Access was denied.",
      too_many_requests: "The sign-in service is busy. Try again in a minute.",
      invalid_request: "The request was not complete. Fill in every field and try again.",
      server_error: "The sign-in service is not working right now. Try again later.",
      temporarily_unavailable: "The sign-in service is not working right now. Try again later.",
    },
  };

  function sentence(step, error) {
    return (
      (SENTENCES[step] && SENTENCES[step][error]) ||
      SENTENCES.any[error] ||
      "Something went wrong. Try again in a moment."
    );
  }

  function say(text, isError = false) {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
  }

  function busy(on) {
    ui.buttons.forEach((button) => {
      button.disabled = on;
    });
  }

  // --- the API ------------------------------------------------------------------------------

  async function call(method, path, body, headers = {}) {
    const init = {
      method,
      credentials: "include", // send and accept the API's HttpOnly refresh-token cookie
      cache: "no-store",
      headers: { "X-CSRF": "1", Accept: "application/json", ...headers },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(api + path, init);
    } catch (_networkError) {
      return { status: 0, body: { error: "temporarily_unavailable" } };
    }
    let parsed = {};
    try {
      parsed = await response.json();
    } catch (_notJson) {
      parsed = { error: response.status >= 500 ? "server_error" : "invalid_request" };
    }
    return { status: response.status, body: parsed };
  }

  // --- signed in ----------------------------------------------------------------------------

  function claimsOf(idToken) {
    try {
      const payload = idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const json = decodeURIComponent(
        Array.from(atob(payload), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
      );
      return JSON.parse(json);
    } catch (_malformed) {
      return {};
    }
  }

  function signedIn(tokens) {
    accessToken = tokens.access_token;
    const claims = tokens.id_token ? claimsOf(tokens.id_token) : {};
    const expires = new Date(Date.now() + Number(tokens.expires_in || 0) * 1000);
    ui.userEmail.textContent = claims.email || "(no email in the ID token)";
    ui.expiresAt.dateTime = expires.toISOString();
    ui.expiresAt.textContent = expires.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    ui.signedIn.hidden = false;
    ui.loginForm.hidden = true;
    endMfa();
    ui.password.value = "";
    say("You are signed in.");
  }

  function signedOut(text, isError = false) {
    accessToken = null;
    ui.signedIn.hidden = true;
    ui.userEmail.textContent = "";
    ui.expiresAt.textContent = "";
    ui.loginForm.hidden = false;
    endMfa();
    say(text, isError);
  }

  // --- log in ---------------------------------------------------------------------------------

  async function logIn(event) {
    event.preventDefault();
    ui.newRecovery.hidden = true;
    if (!ui.email.value || !ui.password.value) {
      say("Enter your email and password.", true);
      return;
    }
    busy(true);
    const { status, body } = await call("POST", "/login", {
      username: ui.email.value.trim(),
      password: ui.password.value,
    });
    busy(false);
    if (status === 200) {
      signedIn(body);
    } else if (body.error === "mfa_required" && body.mfa_token) {
      ui.password.value = "";
      await startMfa(body.mfa_token);
    } else {
      say(sentence("login", body.error), true);
    }
  }

  // --- the second factor --------------------------------------------------------------------

  async function startMfa(mfaToken) {
    mfa = { token: mfaToken, kind: null, oobCode: null };
    busy(true);
    const listed = await call("GET", "/login/mfa/authenticators", undefined, {
      Authorization: "Bearer " + mfaToken,
    });
    busy(false);
    if (listed.status !== 200 || !Array.isArray(listed.body)) {
      failMfa("mfa", listed.body.error);
      return;
    }
    const active = listed.body.filter((a) => a.active !== false);
    const otp = active.find((a) => a.authenticator_type === "otp");
    const oob = active.find((a) => a.authenticator_type === "oob");
    const recovery = active.some((a) => a.authenticator_type === "recovery-code");
    ui.recoveryField.hidden = !recovery;
    ui.loginForm.hidden = true;
    ui.mfaForm.hidden = false;
    if (otp) {
      mfa.kind = "otp";
      showMfa("Enter the 6-digit code from your authenticator app" + (recovery ? ", or a recovery code." : "."));
      return;
    }
    if (!oob) {
      failMfa("mfa", "association_required");
      return;
    }
    busy(true);
    const challenge = await call("POST", "/login/mfa/challenge", {
      mfa_token: mfaToken,
      challenge_type: "oob",
      authenticator_id: oob.id,
    });
    busy(false);
    if (challenge.status !== 200 || !challenge.body.oob_code) {
      failMfa("mfa", challenge.body.error);
      return;
    }
    mfa.oobCode = challenge.body.oob_code;
    if (challenge.body.binding_method === "prompt") {
      mfa.kind = "sms";
      showMfa("We sent a code to your phone. Enter it here.");
    } else {
      mfa.kind = "push";
      ui.codeField.hidden = true;
      ui.mfaPrompt.textContent = "We sent a notification to your phone. Approve it there; this page waits.";
      say("Waiting for your approval…");
      schedulePoll(DEFAULT_POLL_SECONDS);
    }
  }

  function showMfa(prompt) {
    ui.codeField.hidden = false;
    ui.mfaPrompt.textContent = prompt;
    say("One more step.");
    ui.code.focus();
  }

  function endMfa() {
    clearTimeout(pollTimer);
    pollTimer = null;
    mfa = null;
    ui.mfaForm.hidden = true;
    ui.code.value = "";
    ui.recoveryCode.value = "";
  }

  function failMfa(step, error) {
    const text = sentence(step, error);
    const over = error !== "invalid_grant" || step === "push";
    if (over) {
      signedOut(text, true);
    } else {
      say(text, true);
    }
  }

  async function verify(event) {
    event.preventDefault();
    if (!mfa) return;
    const recoveryCode = ui.recoveryCode.value.trim();
    const code = ui.code.value.trim();
    const request = { mfa_token: mfa.token };
    if (recoveryCode) {
      request.recovery_code = recoveryCode;
    } else if (mfa.kind === "otp" && code) {
      request.otp = code;
    } else if (mfa.kind === "sms" && code) {
      request.oob_code = mfa.oobCode;
      request.binding_code = code;
    } else {
      say(mfa.kind === "push" ? "Approve the notification on your phone." : "Enter the code.", true);
      return;
    }
    busy(true);
    const { status, body } = await call("POST", "/login/mfa", request);
    busy(false);
    if (status === 200) {
      finishMfa(body);
    } else {
      failMfa("mfa", body.error);
    }
  }

  function finishMfa(tokens) {
    signedIn(tokens);
    if (tokens.recovery_code) {
      ui.newRecoveryCode.textContent = tokens.recovery_code;
      ui.newRecovery.hidden = false;
    }
  }

  // Push: poll /login/mfa with the oob_code; authorization_pending means ask again after the
  // interval (the answer's `interval` when it has one), slow_down means the interval grows by 5
  // seconds for every later poll (RFC 8628, section 3.5).
  function schedulePoll(seconds) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => poll(seconds), seconds * 1000);
  }

  async function poll(seconds) {
    if (!mfa || mfa.kind !== "push") return;
    const { status, body } = await call("POST", "/login/mfa", { mfa_token: mfa.token, oob_code: mfa.oobCode });
    if (!mfa || mfa.kind !== "push") return; // cancelled while waiting
    if (status === 200) {
      finishMfa(body);
    } else if (body.error === "authorization_pending") {
      schedulePoll(Math.max(Number(body.interval) || 0, seconds));
    } else if (body.error === "slow_down") {
      schedulePoll(Math.max(Number(body.interval) || 0, seconds) + 5);
    } else {
      failMfa("push", body.error);
    }
  }

  // --- the session ----------------------------------------------------------------------------

  async function refresh() {
    busy(true);
    const { status, body } = await call("POST", "/token/refresh", {});
    busy(false);
    if (status === 200) {
      signedIn(body);
      say("Your session was refreshed.");
    } else {
      signedOut(sentence("session", body.error), true);
    }
  }

  async function logOut() {
    busy(true);
    const { status, body } = await call("POST", "/logout", {});
    busy(false);
    if (status === 200) {
      signedOut("You are logged out.");
    } else {
      say(sentence("session", body.error), true);
    }
  }

  // Your app's own API calls go through here: the access token from memory, as a Bearer token.
  // (This page calls no API of yours; keep such calls inside this closure, next to the token.)
  // eslint-disable-next-line no-unused-vars
  function callYourApi(url, init = {}) {
    const headers = { ...(init.headers || {}), Authorization: "Bearer " + accessToken };
    return fetch(url, { ...init, headers });
  }

  ui.loginForm.addEventListener("submit", logIn);
  ui.mfaForm.addEventListener("submit", verify);
  ui.refresh.addEventListener("click", refresh);
  ui.logout.addEventListener("click", logOut);
})();
