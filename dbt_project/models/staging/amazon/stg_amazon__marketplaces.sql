-- Amazon's marketplaces (SP-API "Marketplace IDs", developer-docs.amazon.com/sp-api/docs/
-- marketplace-ids): country, sales channel name, currency and whether listed prices include tax.
-- Declared here once; orders read their currency (when an order has no OrderTotal and its items
-- none either) and their tax convention from it. US and Canada list prices before sales tax
-- (OrderTotal = ItemPrice + ItemTax + ...); every other marketplace lists prices with VAT/GST
-- included (ItemTax is the included part).
{{ config(materialized="view") }}

with

marketplaces (marketplace_id, country_code, sales_channel, currency, prices_include_tax) as (
    values
        ('A2EUQ1WTGCTBG2', 'CA', 'Amazon.ca', 'CAD', false),
        ('ATVPDKIKX0DER', 'US', 'Amazon.com', 'USD', false),
        ('A1AM78C64UM0Y8', 'MX', 'Amazon.com.mx', 'MXN', true),
        ('A2Q3Y263D00KWC', 'BR', 'Amazon.com.br', 'BRL', true),
        ('A28R8C7NBKEWEA', 'IE', 'Amazon.ie', 'EUR', true),
        ('A1RKKUPIHCS9HS', 'ES', 'Amazon.es', 'EUR', true),
        ('A1F83G8C2ARO7P', 'GB', 'Amazon.co.uk', 'GBP', true),
        ('A13V1IB3VIYZZH', 'FR', 'Amazon.fr', 'EUR', true),
        ('AMEN7PMS3EDWL', 'BE', 'Amazon.com.be', 'EUR', true),
        ('A1805IZSGTT6HS', 'NL', 'Amazon.nl', 'EUR', true),
        ('A1PA6795UKMFR9', 'DE', 'Amazon.de', 'EUR', true),
        ('APJ6JRA9NG5V4', 'IT', 'Amazon.it', 'EUR', true),
        ('A2NODRKZP88ZB9', 'SE', 'Amazon.se', 'SEK', true),
        ('AE08WJ6YKNBMC', 'ZA', 'Amazon.co.za', 'ZAR', true),
        ('A1C3SOZRARQ6R3', 'PL', 'Amazon.pl', 'PLN', true),
        ('ARBP9OOSHTCHU', 'EG', 'Amazon.eg', 'EGP', true),
        ('A33AVAJ2PDY3EV', 'TR', 'Amazon.com.tr', 'TRY', true),
        ('A17E79C6D8DWNP', 'SA', 'Amazon.sa', 'SAR', true),
        ('A2VIGQ35RCS4UG', 'AE', 'Amazon.ae', 'AED', true),
        ('A21TJRUUN4KGV', 'IN', 'Amazon.in', 'INR', true),
        ('A19VAU5U5O7RUS', 'SG', 'Amazon.sg', 'SGD', true),
        ('A39IBJ37TRP1C6', 'AU', 'Amazon.com.au', 'AUD', true),
        ('A1VC38T7YXB528', 'JP', 'Amazon.co.jp', 'JPY', true)
),

final as (
    select * from marketplaces
)

select * from final
