// The shop's cart: totals and the shipping label. The bug: a guest cart has no customer.

export interface Address {
  city: string;
  country: string;
}

export interface Customer {
  name: string;
  address: Address;
}

export interface Line {
  sku: string;
  price: number;
  quantity: number;
}

export interface Cart {
  id: string;
  lines: Line[];
  customer?: Customer;
}

export function cartTotal(cart: Cart): number {
  return cart.lines.reduce((sum, line) => sum + line.price * line.quantity, 0);
}

// @build-b-inserts-here
export function shippingLabel(cart: Cart): string {
  const total = cartTotal(cart);
  // A guest cart has no customer: reading its address throws a TypeError.
  const city = (cart.customer as Customer).address.city; // @bug
  return `${cart.id}: ${total.toFixed(2)} to ${city}`;
}
