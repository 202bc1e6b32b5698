/** How a contract suite gets a fresh implementation for each test. */
export interface ContractSubject<T, Extra = object> {
  /** Build an empty implementation; `cleanup` releases it. */
  make(): Promise<{ subject: T; cleanup: () => Promise<void> } & Extra>;
}
