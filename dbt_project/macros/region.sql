{#- Sales region of an ISO country code: EU, UK, Europe (non-EU), North America, Rest of world;
    null when the country is unknown. Used by customers (their country) and sales (ship country). -#}
{% macro region_of(country_expr) -%}
    case
        when {{ country_expr }} is null then null
        when {{ country_expr }} = 'GB' then 'UK'
        when {{ country_expr }} in (
            'AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'HU', 'IE',
            'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE'
        ) then 'EU'
        when {{ country_expr }} in ('CH', 'NO', 'IS', 'LI') then 'Europe (non-EU)'
        when {{ country_expr }} in ('US', 'CA', 'MX') then 'North America'
        else 'Rest of world'
    end
{%- endmacro %}
