"""The commented starter `oms.yaml` that `oms init` writes. A test parses it, so it stays valid."""

STARTER_YAML = """\
# oms-pipeline configuration. Every key is checked when a command starts: a misspelt key or a
# wrong value stops the run with a message naming it. Relative paths are relative to this file.

warehouse: data/oms.duckdb          # the DuckDB file everything lands in (the pipeline's own)
published_warehouse: data/oms_read.duckdb  # read-only copy for analysts and BI tools: open this
                                    # one; replaced whole (atomically) after every run
base_currency: EUR                  # marts report money in this currency
currencies: [EUR, GBP, USD]         # currencies you accept; anything else is quarantined
business_timezone: Europe/Amsterdam # order dates (order_date, daily marts) use this zone
lock_timeout_seconds: 120           # how long a run waits for another run to finish writing

# Where stock is kept. kind: own_warehouse | 3pl | store | marketplace_fulfilled
# external_ids maps a channel's own id for the location (Shopify location ids) to ours.
locations:
  - {id: WH-MAIN, name: Main warehouse, country: NL, kind: own_warehouse, external_ids: {shop: "71000001"}}
  - {id: STORE-1, name: High street store, country: GB, kind: store}

# Sales channels. This version reads each channel from files in files.drop_dir/<path>; one
# channel per kind, named shop (shopify), amazon, woo (woocommerce), tills (till_export) and
# tpl (stock_report). Secrets never go here: name the environment variable that holds them.
channels:
  - name: shop
    kind: shopify
    currency: EUR
    default_location: WH-MAIN        # where orders ship from when the order does not say
    path: shop                       # files arrive in <drop_dir>/shop/<stream>/
  - name: tills
    kind: till_export                # till or order exports (CSV / Parquet), one row per line
    currency: GBP                    # every row's currency unless `currency` is mapped
    default_location: STORE-1        # every row's location unless `location_id` is mapped
    path: tills
    timezone: Europe/London          # exports carry local times without an offset
    mapping:                         # our field: the column name in your export
      order_id: InvoiceNo            # receipt / invoice number
      # line_id: Line                # none: lines are numbered within the order in file order
      ordered_at: InvoiceDate
      sku: StockCode
      title: Description             # products.title where the catalogue has none
      quantity: Quantity             # negative quantities are returns
      unit_price: UnitPrice
      customer_id: CustomerID        # customers without an e-mail are keyed by it
      country: Country               # an ISO code or a name (United Kingdom, EIRE, ...)
      # also: discount, customer_email, customer_name, category, cancelled (1 = voided line),
      # line_type (a column saying product/shipping/fee/...), credit_note (a yes/no column),
      # original_order_id (the invoice a credit note refunds), location_id, currency
    # constants: {location_id: STORE-2}  # a value for every row (any field above)
    timestamp_format: "%m/%d/%Y %H:%M"  # strptime format of ordered_at (default: ISO 8601)
    decimal_comma: false             # true for 1.234,56 (a dot is then a thousands separator)
    # thousands_separator: ","       # for 1,234.56
    line_types:                      # what a line is, by its code (or the line_type column);
      shipping: [POST, DOT]          # patterns like "POST*" work; everything else is a product.
      fee: [AMAZONFEE, BANK CHARGES] # Only products are goods (demand, forecasts, products);
      discount: [D]                  # shipping, fees and discounts are order totals;
      gift_card: ["gift_*"]          # adjustments (bad debt, manual) book into finance, never
      adjustment: [B, M]             # net sales
    credit_notes:                    # a credit note is a refund, never an order
      prefix: C                      # invoice numbers starting with C
      negative_total: false          # or: every document whose lines add up below zero
    # Lines with a negative quantity, price 0 and no customer are stock write-offs
    # (marts.inventory_adjustments), never returns or demand.
  - name: tpl
    kind: stock_report               # sku, location_id, on_hand, counted_at
    path: stock

files:
  drop_dir: data/drop                # every input file arrives under this folder
  supplier_terms: supplier_terms     # supplier_id, sku, unit_cost, currency, lead_time_days, ...
  purchase_orders: purchase_orders   # po_id, supplier_id, sku, location_id, quantity_ordered, ...
  purchase_order_receipts: purchase_order_receipts  # po_id, sku, location_id, received_at, qty
  fx_rates: fx_rates                 # date, currency, rate (value of 1 unit in the base currency)
  bundle_components: bundle_components  # bundle_sku, component_sku, quantity (bundles and kits)
  promotions: promotions             # promotion_id, sku|category|all, location_id, start, end, uplift|units
  forecast_overrides: forecast_overrides  # sku, location_id, period_start (Monday), units|factor, reason, author

quality:
  max_bad_share: 0.2                 # refuse a whole file when more than this share is bad
  future_tolerance_hours: 24         # timestamps further in the future are quarantined
  freshness_hours: 48                # `oms check` fails when a channel's newest order is older
  freshness_hours_by_channel: {}     # e.g. {tills: 72} for a shop closed on Sundays
  volume_z: 4                        # flag a day whose order count is this many sd from the 28-day mean
  max_units: 10000                   # a line with more units is held as a typo (raise it for wholesale)
  max_stock: 1000000                 # a stock count above this is held as a typo

replenishment:
  service_levels: {A: 0.98, B: 0.95, C: 0.90}   # by ABC class
  default_service_level: 0.95
  review_period_days: 7
  horizon_days: 56
  max_days_of_cover: 120
  error_history_days: 365            # safety stock from forecast errors measured over this history
  error_prior_weight: 2.0            # weight of the forecast's own spread against them
  output_dir: out                    # buyer files go to <output_dir>/reorder/<run_date>/
"""
