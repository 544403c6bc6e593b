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
  - {id: STORE-1, name: High street store, country: NL, kind: store}

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
    kind: till_export
    currency: EUR
    default_location: STORE-1
    path: tills
    timezone: Europe/Amsterdam       # till exports carry local times without an offset
    mapping:                         # our field: the column name in your till's export
      order_id: Receipt
      line_id: Line
      ordered_at: Timestamp
      location_id: Store
      sku: Article
      quantity: Qty                  # negative quantities are returns
      unit_price: Price
      discount: Discount
      currency: Currency
      customer_email: Email
      cancelled: Void                # 1 = voided line
  - name: tpl
    kind: stock_report               # sku, location_id, on_hand, counted_at
    path: stock

files:
  drop_dir: data/drop                # every input file arrives under this folder
  supplier_terms: supplier_terms     # supplier_id, sku, unit_cost, currency, lead_time_days, ...
  purchase_orders: purchase_orders   # po_id, supplier_id, sku, location_id, quantity_ordered, ...
  fx_rates: fx_rates                 # date, currency, rate (value of 1 unit in the base currency)

quality:
  max_bad_share: 0.2                 # refuse a whole file when more than this share is bad
  future_tolerance_hours: 24         # timestamps further in the future are quarantined
  freshness_hours: 48                # `oms check` fails when a channel's newest order is older
  freshness_hours_by_channel: {}     # e.g. {tills: 72} for a shop closed on Sundays
  volume_z: 4                        # flag a day whose order count is this many sd from the 28-day mean

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
