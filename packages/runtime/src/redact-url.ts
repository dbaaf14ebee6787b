/** Removes the password from a URL so it can be logged or shown; leaves non-URLs untouched. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.password === '') return url;
  parsed.password = '***';
  return parsed.toString();
}
