// What went wrong in an OIDC sign-in, in words: the web role sends the browser
// back to #/sign-in?error=<code> (web/server/oidc-login.ts, SIGN_IN_ERRORS).
export function signInErrorMessage(code: string, provider: string): string {
  switch (code) {
    case 'denied':
      return `You did not allow ${provider} to sign you in to the restaurant. Sign in again when you are ready.`;
    case 'state_mismatch':
      return 'That sign-in could not be matched to this browser (its state did not match what this browser started), so it was refused to keep your account safe. Start again from this page.';
    case 'expired':
      return 'The sign-in took too long or was started in another browser. Start again from this page.';
    case 'code_rejected':
      return `${provider} no longer accepts that sign-in (its code expired or was used already). Start again from this page.`;
    case 'provider_unavailable':
      return `${provider} cannot be reached right now. Try again in a moment.`;
    case 'token_not_accepted':
      return `You signed in at ${provider}, but the restaurant does not accept the token it issued. Please tell the restaurant (the web role's log says why).`;
    case 'no_role':
      return `Your ${provider} account has no role at this restaurant (customer, kitchen, courier or manager). Ask the restaurant to give you one.`;
    case 'provider_error':
      return `${provider} could not complete the sign-in. Try again; if it keeps failing, please tell the restaurant.`;
    default:
      return 'Signing in did not complete. Start again from this page.';
  }
}
