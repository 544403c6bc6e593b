{%- set order_shape = {
    'AmazonOrderId': 'VARCHAR',
    'PurchaseDate': 'VARCHAR',
    'LastUpdateDate': 'VARCHAR',
    'OrderStatus': 'VARCHAR',
    'FulfillmentChannel': 'VARCHAR',
    'SalesChannel': 'VARCHAR',
    'MarketplaceId': 'VARCHAR',
    'OrderTotal': {'CurrencyCode': 'VARCHAR', 'Amount': 'VARCHAR'},
    'NumberOfItemsShipped': 'VARCHAR',
    'NumberOfItemsUnshipped': 'VARCHAR',
    'BuyerInfo': {'BuyerEmail': 'VARCHAR'},
    'ShippingAddress': {'CountryCode': 'VARCHAR'},
} -%}
with

source as (
    {{ latest_version(source('raw', 'amazon__orders')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', order_shape) }} as o
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        o.AmazonOrderId as order_id,
        {{ to_utc_ts('o.PurchaseDate') }} as ordered_at,
        {{ to_utc_ts('o.LastUpdateDate') }} as updated_at,
        o.OrderStatus as order_status,
        o.OrderStatus = 'Canceled' as is_cancelled,
        o.FulfillmentChannel as fulfillment_channel,
        o.SalesChannel as sales_channel,
        o.MarketplaceId as marketplace_id,
        -- as the order says; a Pending order has no OrderTotal: int_orders_unioned falls back to
        -- its items' currency, then the marketplace's (stg_amazon__marketplaces)
        upper(o.OrderTotal.CurrencyCode) as currency,
        {{ text_money('o.OrderTotal.Amount') }} as order_total_local,
        {{ text_int('o.NumberOfItemsShipped') }} as items_shipped,
        {{ text_int('o.NumberOfItemsUnshipped') }} as items_unshipped,
        {{ normalize_email('o.BuyerInfo.BuyerEmail') }} as email,
        upper(o.ShippingAddress.CountryCode) as ship_country
    from parsed
)

select * from final
