// The page's wiring: Sentry from the page's settings, and the checkout button.

import * as Sentry from "@sentry/browser";
import { type Cart, shippingLabel } from "./cart";

interface PageSettings {
  dsn: string;
  release: string;
}

const settings = (window as unknown as { FAULTLINE: PageSettings }).FAULTLINE;

Sentry.init({
  dsn: settings.dsn,
  release: settings.release,
  environment: "test",
});

function guestCart(): Cart {
  return { id: "cart-7", lines: [{ sku: "mug", price: 12.5, quantity: 2 }] };
}

function onCheckout(): void {
  const label = shippingLabel(guestCart());
  (document.getElementById("label") as HTMLElement).textContent = label;
}

(document.getElementById("checkout") as HTMLButtonElement).addEventListener("click", onCheckout);
document.body.dataset.ready = "yes";
