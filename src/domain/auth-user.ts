/** The caller, as the verified token describes them. */
export interface AuthUser {
  /** The token's `sub`. */
  id: string;
  roles: string[];
}
